// The page talks only to this server's /v1 API; nothing is sent anywhere else.
"use strict";

const form = document.getElementById("scrub-form");
const statusLine = document.getElementById("status");
const strength = document.getElementById("strength");
let maxUploadBytes = Infinity;

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.className = isError ? "error" : "";
}

async function loadAttributes() {
  const box = document.getElementById("attributes");
  const reply = await fetch("/v1/attributes");
  const info = await reply.json();
  maxUploadBytes = info.limits.max_upload_bytes;
  box.replaceChildren(Object.assign(document.createElement("legend"), {textContent: "Attributes to hide"}));
  info.attributes.forEach((name, i) => {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"),
      {type: "checkbox", name: "attribute", value: name, checked: i === 0});
    label.append(input, " " + name.replaceAll("_", " "));
    box.append(label);
  });
}

function cell(row, text, tag = "td") {
  row.append(Object.assign(document.createElement(tag), {textContent: text}));
}

function renderReport(report) {
  const section = document.getElementById("report");
  section.replaceChildren();
  const summary = document.createElement("p");
  summary.textContent = `${report.faces_found} face(s) found; mode ${report.mode}, ` +
    `strength ${report.strength}; edited: ${report.attributes.join(", ")}.`;
  section.append(summary);
  for (const face of report.faces) {
    const title = document.createElement("h3");
    title.textContent = `Face ${face.index}` + (face.edited ? "" : " (not edited)");
    section.append(title);
    if (face.target) {
      const goal = document.createElement("p");
      goal.textContent = `Strength ${face.strength.toFixed(2)}: ` +
        (face.target.reached ? "goal reached" : "goal NOT reached") + ` (${face.target.goal}).`;
      section.append(goal);
    }
    if (face.attacker_after_sharing) {
      const shared = document.createElement("p");
      shared.textContent = "After sharing: " + Object.entries(face.attacker_after_sharing).map(
        ([channel, ps]) => `${channel}: ` + Object.entries(ps).map(([a, p]) => `${a} ${p.toFixed(2)}`).join(", ")
      ).join("; ") + ".";
      section.append(shared);
    }
    if (!face.attacker) continue;
    const table = document.createElement("table");
    const head = document.createElement("tr");
    ["attribute", "p before", "p after", "entropy before (bits)", "entropy after (bits)"]
      .forEach((t) => cell(head, t, "th"));
    table.append(head);
    for (const [name, v] of Object.entries(face.attacker)) {
      const row = document.createElement("tr");
      if (face.attributes_edited.includes(name)) row.className = "edited";
      [name, v.p_before.toFixed(3), v.p_after.toFixed(3),
       v.entropy_before_bits.toFixed(3), v.entropy_after_bits.toFixed(3)].forEach((t) => cell(row, t));
      table.append(row);
    }
    section.append(table);
  }
}

strength.addEventListener("input", () => {
  document.getElementById("strength-value").textContent = Number(strength.value).toFixed(2);
});

document.getElementById("photo").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) document.getElementById("before").src = URL.createObjectURL(file);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = document.getElementById("photo").files[0];
  const chosen = [...form.querySelectorAll("input[name=attribute]:checked")].map((i) => i.value);
  if (!file) return setStatus("Choose a photo first.", true);
  if (!chosen.length) return setStatus("Choose at least one attribute.", true);
  // The server drops the connection on an upload over its limit: say so before sending.
  if (file.size > maxUploadBytes) {
    return setStatus(`The photo is over the limit of ${maxUploadBytes / 2 ** 20} MB.`, true);
  }
  const body = new FormData();
  body.append("photo", file);
  body.append("attributes", chosen.join(","));
  body.append("mode", form.querySelector("input[name=mode]:checked").value);
  body.append("strength", strength.value);
  if (document.getElementById("target").checked) {
    body.append("target", "1");
    body.append("target_after", "jpeg75");
  }
  setStatus("Scrubbing…");
  document.getElementById("submit").disabled = true;
  try {
    const reply = await fetch("/v1/scrub", {method: "POST", body});
    const result = await reply.json();
    if (!reply.ok) return setStatus(result.error || `failed (${reply.status})`, true);
    const url = `data:${result.media_type};base64,${result.image}`;
    document.getElementById("after").src = url;
    const link = document.getElementById("download");
    link.href = url;
    link.hidden = false;
    renderReport(result.report);
    setStatus("Done.");
  } catch (error) {
    setStatus(`Request failed: ${error}`, true);
  } finally {
    document.getElementById("submit").disabled = false;
  }
});

loadAttributes().catch((error) => setStatus(`Could not load attributes: ${error}`, true));
