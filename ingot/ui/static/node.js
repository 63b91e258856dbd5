// One node: its state, the agent's progress, ports, history, and the actions a person
// takes, each one request to the Bare Metal API, whose refusal is shown as it is.
"use strict";

(() => {
  const {api, el} = ingot;
  const ident = document.body.dataset.node;
  const base = `/v1/nodes/${encodeURIComponent(ident)}`;
  const errorLine = document.getElementById("action-error");
  const notice = document.getElementById("action-notice");
  let uuid = null;
  let lastState = null;

  function text(id, value) {
    const element = document.getElementById(id);
    if (element) element.textContent = value === null || value === undefined || value === ""
      ? "–" : String(value);
  }

  let lastProgress = null;
  function showProgress(p, provisionState) {
    // The agent's last report stays on show after it leaves (its progress is cleared).
    if (p) lastProgress = p;
    const shown = ingot.progress(p || lastProgress);
    const bar = document.getElementById("progress-bar");
    bar.style.width = `${shown ? shown.percent : 0}%`;
    bar.dataset.percent = shown ? shown.percent.toFixed(1) : "0";
    document.getElementById("progress-text").textContent = shown ? shown.text
      : (provisionState === "active" ? "Deployed." : "No download in progress.");
  }

  function showState(node) {
    text("node-name", node.name || node.uuid);
    text("provision_state", node.provision_state);
    text("target_provision_state", node.target_provision_state);
    text("power_state", node.power_state);
    text("maintenance", node.maintenance
      ? `yes${node.maintenance_reason ? ` (${node.maintenance_reason})` : ""}` : "no");
    text("last_error", node.last_error);
    lastState = node.provision_state;
  }

  async function load() {
    try {
      const node = (await api("GET", base)).body;
      uuid = node.uuid;
      showState(node);
      document.title = `${node.name || node.uuid} · ingot`;
      text("driver", node.driver);
      text("deploy_interface", node.deploy_interface);
      // The API masks the config drive like every secret; its presence is what shows.
      text("configdrive", node.instance_info && "configdrive" in node.instance_info
        ? "present (contents hidden)" : "none");
      document.getElementById("instance_info").textContent =
        JSON.stringify(node.instance_info, null, 2);
      document.getElementById("driver_info").textContent =
        JSON.stringify(node.driver_info, null, 2);
      showProgress((node.driver_internal_info || {}).agent_progress, node.provision_state);
      if (ingot.multisite) {
        const sites = (await api("GET", "/ui/api/sites")).body;
        text("site", sites.groups[node.conductor_group || ""]);
      }
      await Promise.all([ports(), historyTable()]);
    } catch (e) {
      errorLine.textContent = e.message;
    }
  }

  async function ports() {
    const reply = await api("GET", `${base}/ports?detail=True`);
    document.getElementById("ports").replaceChildren(...reply.body.ports.map((port) =>
      el("tr", {}, el("td", {class: "mono"}, port.address), el("td", {class: "mono"}, port.uuid),
         el("td", {}, port.pxe_enabled ? "yes" : "no"))));
  }

  async function historyTable() {
    const reply = await api("GET", `${base}/history?detail=True`);
    const events = reply.body.history.slice(-50).reverse();
    document.getElementById("history").replaceChildren(...(events.length ? events.map((event) =>
      el("tr", {}, el("td", {}, ingot.when(event.created_at)), el("td", {}, event.event),
         el("td", {}, event.severity)))
      : [el("tr", {}, el("td", {colSpan: 3, class: "muted"}, "No events recorded."))]));
  }

  async function act(what, method, path, body) {
    errorLine.textContent = "";
    notice.textContent = "";
    try {
      await api(method, path, body);
      notice.textContent = `${what}: accepted.`;
      await load();
      return true;
    } catch (e) {
      errorLine.textContent = `${what} refused: ${e.message}`;
      return false;
    }
  }

  for (const button of document.querySelectorAll("[data-provision]")) {
    button.addEventListener("click", () => act(button.textContent, "PUT",
      `${base}/states/provision`, {target: button.dataset.provision}));
  }
  for (const button of document.querySelectorAll("[data-power]")) {
    button.addEventListener("click", () => act(button.textContent, "PUT",
      `${base}/states/power`, {target: button.dataset.power}));
  }
  document.getElementById("maintenance-on").addEventListener("click", () => {
    const reason = document.getElementById("maintenance-reason").value.trim();
    act("Set maintenance", "PUT", `${base}/maintenance`, reason ? {reason} : {});
  });
  document.getElementById("maintenance-off").addEventListener("click",
    () => act("Unset maintenance", "DELETE", `${base}/maintenance`));

  // Deploy: the image reference goes into instance_info (a PATCH, as the CLI's
  // `node set --instance-info` does), then the deploy request with the config drive.
  document.getElementById("deploy").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const image = String(data.get("image_source")).trim();
    const checksum = String(data.get("checksum") || "").trim();
    const rawDrive = String(data.get("configdrive") || "").trim();
    let configdrive;
    if (rawDrive) {
      if (rawDrive.startsWith("{")) {
        try { configdrive = JSON.parse(rawDrive); } catch (e) {
          errorLine.textContent = `Deploy refused: the config drive is not valid JSON (${e.message}).`;
          return;
        }
      } else {
        configdrive = rawDrive;  // a URL or a base64 gzipped ISO, as the API takes
      }
    }
    const patch = [{op: "add", path: "/instance_info/image_source", value: image}];
    if (checksum) {
      patch.push({op: "add", path: "/instance_info/image_os_hash_algo", value: "sha256"},
                 {op: "add", path: "/instance_info/image_os_hash_value", value: checksum});
    }
    if (!await act("Set image", "PATCH", base, patch)) return;
    await act("Deploy", "PUT", `${base}/states/provision`,
              configdrive === undefined ? {target: "active"} : {target: "active", configdrive});
  });

  let reloadTimer = null;
  function onNode(change) {
    if (change.uuid !== uuid) return;
    const changed = change.provision_state !== lastState;
    showState(change);
    showProgress(change.agent_progress, change.provision_state);
    if (changed && !reloadTimer) {
      reloadTimer = setTimeout(() => { reloadTimer = null; load(); }, 300);
    }
  }

  if (ingot.tokenLogin && !ingot.token()) return;
  load();
  // Read again once the stream is open: nothing changed between it and the page.
  ingot.listen({hello: load, node: onNode, reload: load});
})();
