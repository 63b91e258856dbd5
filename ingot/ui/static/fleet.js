// The fleet view: counts, and one page of nodes at a time from the API's own paging,
// filters and sort keys (each served by an index), updated live by the event stream.
"use strict";

(() => {
  const {api, el} = ingot;
  const FIELDS = ["uuid", "name", "provision_state", "target_provision_state", "power_state",
                  "maintenance", "driver", "resource_class", "conductor_group",
                  "provision_updated_at", "last_error"];
  const FILTERS = ["provision_state", "driver", "resource_class", "conductor_group",
                   "maintenance"];
  const form = document.getElementById("filters");
  const tbody = document.querySelector("#nodes tbody");
  const state = {filters: {}, sortKey: null, sortDir: "asc", limit: 50,
                 markers: [], marker: null, next: null};
  let groups = {};  // conductor group -> site (proxy)
  let downSites = [];
  let missingSites = [];

  function readForm() {
    const data = new FormData(form);
    state.filters = {};
    for (const name of FILTERS) {
      const value = String(data.get(name) || "").trim();
      if (value) state.filters[name] = value;
    }
    state.limit = Number(data.get("limit")) || 50;
  }

  function query() {
    const params = new URLSearchParams(state.filters);
    params.set("limit", state.limit);
    params.set("fields", FIELDS.join(","));
    if (state.sortKey) { params.set("sort_key", state.sortKey);
                         params.set("sort_dir", state.sortDir); }
    if (state.marker) params.set("marker", state.marker);
    return params;
  }

  function remember() {
    // Filters and sort (never credentials) in the address, so a reload keeps the view.
    const params = new URLSearchParams(state.filters);
    if (state.sortKey) { params.set("sort_key", state.sortKey);
                         params.set("sort_dir", state.sortDir); }
    if (state.limit !== 50) params.set("limit", state.limit);
    history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  }

  function restore() {
    const params = new URLSearchParams(location.search);
    for (const name of [...FILTERS, "limit"]) {
      if (params.has(name)) form.elements[name].value = params.get(name);
    }
    if (params.has("sort_key")) { state.sortKey = params.get("sort_key");
                                  state.sortDir = params.get("sort_dir") || "asc"; }
    readForm();
  }

  function cell(text, cls) { return el("td", cls ? {class: cls} : {}, text); }

  function row(node) {
    const link = el("a", {href: `/ui/nodes/${node.uuid}`}, node.name || node.uuid);
    const tr = el("tr", {"data-uuid": node.uuid});
    if (ingot.multisite) tr.append(cell(groups[node.conductor_group || ""] || "?", "site"));
    tr.append(el("td", {class: "name"}, link), cell(node.uuid, "uuid mono"),
              cell(stateText(node), "provision_state"), cell(node.power_state || "", "power_state"),
              cell(node.maintenance ? "yes" : "", "maintenance"), cell(node.driver || ""),
              cell(node.resource_class || ""), cell(node.conductor_group || ""),
              cell(ingot.when(node.provision_updated_at), "changed"),
              el("td", {class: "progress-cell"}));
    if (node.last_error) tr.classList.add("failed");
    return tr;
  }

  function stateText(node) {
    return node.target_provision_state && node.target_provision_state !== node.provision_state
      ? `${node.provision_state} → ${node.target_provision_state}` : node.provision_state;
  }

  async function load() {
    const error = document.getElementById("list-error");
    error.textContent = "";
    try {
      const reply = await api("GET", `/v1/nodes?${query()}`);
      missingSites = (reply.headers.get("X-Ingot-Missing-Sites") || "")
        .split(",").map((s) => s.trim()).filter(Boolean);
      showBanner();
      tbody.replaceChildren(...reply.body.nodes.map(row));
      state.next = reply.body.next ? new URL(reply.body.next, location.href).searchParams.get("marker") : null;
      const page = state.markers.length + 1;
      const first = state.markers.length * state.limit + 1;
      document.getElementById("page-info").textContent = reply.body.nodes.length
        ? `Page ${page} · nodes ${first} to ${first + reply.body.nodes.length - 1}`
        : `Page ${page} · no nodes`;
      document.getElementById("next").disabled = !state.next;
      document.getElementById("prev").disabled = state.markers.length === 0;
      document.getElementById("first").disabled = state.markers.length === 0;
      for (const th of document.querySelectorAll("th[data-sort]")) {
        th.classList.toggle("sorted", th.dataset.sort === state.sortKey);
        th.classList.toggle("desc", th.dataset.sort === state.sortKey
                                     && state.sortDir === "desc");
      }
    } catch (e) {
      error.textContent = e.message;
      tbody.replaceChildren();
    }
  }

  function counts(list, values, filterName) {
    const target = document.getElementById(list);
    const entries = Object.entries(values || {}).sort((a, b) => b[1] - a[1]);
    target.replaceChildren(...entries.map(([name, count]) => {
      const item = el("li", {"data-state": name}, el("span", {class: "count"}, count), " ",
                      filterName ? el("a", {href: "#", class: "state-filter"}, name) : name);
      if (filterName) {
        item.querySelector("a").addEventListener("click", (event) => {
          event.preventDefault();
          form.elements[filterName].value = name;
          apply();
        });
      }
      return item;
    }));
  }

  async function summary() {
    try {
      const reply = await api("GET", "/ui/api/summary");
      const s = reply.body;
      document.getElementById("total").textContent = s.total;
      document.getElementById("maintenance-count").textContent =
        `${s.maintenance} in maintenance`;
      counts("provision-counts", s.provision_state, "provision_state");
      counts("power-counts", s.power_state, null);
      document.getElementById("provision-states").replaceChildren(
        ...Object.keys(s.provision_state || {}).map((name) => el("option", {value: name})));
      if (s.sites) {
        document.getElementById("site-counts").textContent = Object.entries(s.sites)
          .map(([site, n]) => `${site}: ${n === null ? "no answer" : n}`).join(" · ");
      }
    } catch (e) { /* the table shows the error */ }
  }

  async function sites() {
    try {
      const reply = await api("GET", "/ui/api/sites");
      groups = reply.body.groups;
      downSites = reply.body.sites.filter((s) => !s.up)
        .map((s) => `${s.name} (${s.reason || "no answer"})`);
      showBanner();
    } catch (e) { /* shown by the listing */ }
  }

  function showBanner() {
    const names = [...downSites];
    for (const name of missingSites) {
      if (!names.some((entry) => entry.startsWith(`${name} `))) names.push(name);
    }
    ingot.banner(names.length
      ? `Sites not answering: ${names.join(", ")}. Their nodes are not listed.` : "");
  }

  function apply() {
    readForm();
    state.markers = [];
    state.marker = null;
    remember();
    load();
  }

  // Live: the rows on this page change in place; counts are re-read at most once a
  // second, however many nodes change.
  let summaryTimer = null;
  function onNode(change) {
    const tr = tbody.querySelector(`tr[data-uuid="${change.uuid}"]`);
    if (tr) {
      tr.querySelector(".provision_state").textContent = stateText(change);
      tr.querySelector(".power_state").textContent = change.power_state || "";
      tr.querySelector(".maintenance").textContent = change.maintenance ? "yes" : "";
      tr.querySelector(".changed").textContent = ingot.when(change.provision_updated_at);
      tr.classList.toggle("failed", Boolean(change.last_error));
      const p = ingot.progress(change.agent_progress);
      const progressCell = tr.querySelector(".progress-cell");
      progressCell.replaceChildren(p && change.provision_state !== "active"
        ? el("div", {class: "progress small", title: p.text},
             el("div", {class: "bar", style: `width:${p.percent}%`})) : "");
    }
    if (!summaryTimer) summaryTimer = setTimeout(() => { summaryTimer = null; summary(); }, 1000);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  form.addEventListener("reset", () => setTimeout(apply, 0));
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sortDir = state.sortKey === key && state.sortDir === "asc" ? "desc" : "asc";
      state.sortKey = key;
      state.markers = [];
      state.marker = null;
      remember();
      load();
    });
  }
  document.getElementById("next").addEventListener("click", () => {
    if (!state.next) return;
    state.markers.push(state.marker);
    state.marker = state.next;
    load();
  });
  document.getElementById("prev").addEventListener("click", () => {
    if (!state.markers.length) return;
    state.marker = state.markers.pop();
    load();
  });
  document.getElementById("first").addEventListener("click", () => {
    state.markers = [];
    state.marker = null;
    load();
  });

  if (ingot.tokenLogin && !ingot.token()) return;
  restore();
  const again = async () => {
    if (ingot.multisite) await sites();
    await Promise.all([summary(), load()]);
  };
  again();
  // Read again once the stream is open: nothing changed between it and the view.
  ingot.listen({hello: again, node: onNode, reload: again});
  if (ingot.multisite) {
    // Which sites answer, and their counts, are the proxy's to ask: every 5 s.
    setInterval(async () => { await sites(); await summary(); }, 5000);
  }
})();
