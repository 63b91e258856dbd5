// What every dashboard page shares: calls to the Bare Metal API (its own validation and
// errors), the Keystone login, and the live event stream. Plain JS, no build step.
"use strict";

const ingot = (() => {
  const body = document.body.dataset;
  const TOKEN_KEY = "ingot-token"; // sessionStorage: gone when the tab closes
  const multisite = body.multisite === "true";
  const tokenLogin = body.tokenLogin === "true";

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function headers(extra) {
    const out = {"Accept": "application/json",
                 "X-OpenStack-Ironic-API-Version": body.apiVersion, ...(extra || {})};
    const t = token();
    if (t) out["X-Auth-Token"] = t;
    return out;
  }

  // The message of an error answer: Ironic's body holds a JSON string in error_message.
  function errorMessage(status, text) {
    try {
      const outer = JSON.parse(text);
      let inner = outer.error_message;
      if (typeof inner === "string") {
        try { inner = JSON.parse(inner); } catch (e) { return inner; }
      }
      if (inner && inner.faultstring) return inner.faultstring;
    } catch (e) { /* not JSON */ }
    return `HTTP ${status}`;
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, data) {
    const init = {method, headers: headers(data === undefined ? {}
      : {"Content-Type": "application/json"}), credentials: "same-origin"};
    if (data !== undefined) init.body = JSON.stringify(data);
    const response = await fetch(path, init);
    const text = await response.text();
    if (!response.ok) {
      if (response.status === 401 && tokenLogin) showLogin();
      throw new ApiError(response.status, errorMessage(response.status, text));
    }
    return {status: response.status, headers: response.headers,
            body: text ? JSON.parse(text) : null};
  }

  function showLogin() {
    document.getElementById("login").hidden = false;
    document.getElementById("main").hidden = true;
  }

  function setupLogin() {
    const form = document.getElementById("login");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const fields = Object.fromEntries(new FormData(form));
      const error = document.getElementById("login-error");
      error.textContent = "";
      try {
        const response = await fetch("/ui/api/login", {method: "POST",
          headers: {"Content-Type": "application/json"}, body: JSON.stringify(fields)});
        const text = await response.text();
        if (!response.ok) throw new Error(errorMessage(response.status, text));
        sessionStorage.setItem(TOKEN_KEY, JSON.parse(text).token);
        location.reload();
      } catch (e) { error.textContent = e.message; }
    });
    const logout = document.getElementById("logout");
    if (tokenLogin && token()) {
      logout.hidden = false;
      logout.addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY);
                                                location.reload(); });
    }
    if (tokenLogin && !token()) showLogin();
  }

  // Server-sent events read with fetch, so that the token travels in a header (an
  // EventSource cannot send one). Reconnects after a lost stream.
  function listen(handlers) {
    const live = document.getElementById("live");
    let stopped = false;
    async function run() {
      while (!stopped) {
        try {
          const response = await fetch("/ui/api/events", {headers: headers(),
                                                          credentials: "same-origin"});
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          live.textContent = "● live";
          live.classList.add("on");
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const {value, done} = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, {stream: true});
            let cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              dispatch(buffer.slice(0, cut), handlers);
              buffer = buffer.slice(cut + 2);
            }
          }
        } catch (e) { /* reconnect below */ }
        live.textContent = "○ reconnecting";
        live.classList.remove("on");
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    run();
    return () => { stopped = true; };
  }

  function dispatch(block, handlers) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    }
    const handler = handlers[name];
    if (handler && data.length) handler(JSON.parse(data.join("\n")));
  }

  function banner(text) {
    const element = document.getElementById("banner");
    element.textContent = text || "";
    element.hidden = !text;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const MIB = 1024 * 1024;

  // The agent's download progress as a bar width, and a line with speed and ETA.
  function progress(p) {
    if (!p) return null;
    const done = Number(p.bytes_done || 0);
    const total = Number(p.bytes_total || 0);
    const rate = Number(p.bytes_per_second || 0);
    // A stage without bytes (a clean step, the config drive) has no percentage.
    const percent = p.percent !== undefined && p.percent !== null ? Number(p.percent)
      : (total ? 100 * done / total : null);
    const parts = percent === null ? [] : [`${percent.toFixed(1)}%`];
    if (total) parts.push(`${(done / MIB).toFixed(1)} of ${(total / MIB).toFixed(1)} MiB`);
    if (rate) parts.push(`${(rate / MIB).toFixed(1)} MiB/s`);
    if (rate && total && done < total) parts.push(`ETA ${Math.ceil((total - done) / rate)} s`);
    if (p.stage) parts.push(p.stage);
    if (p.error) parts.push(p.error);
    return {percent: percent === null ? 0 : Math.max(0, Math.min(100, percent)),
            text: parts.join(" · ")};
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toISOString().replace("T", " ").slice(0, 19);
  }

  setupLogin();
  return {api, ApiError, listen, banner, el, progress, when, multisite, tokenLogin,
          token};
})();
