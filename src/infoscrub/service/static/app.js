// The page talks only to this server's /v1 API; nothing is sent anywhere else.
"use strict";

const form = document.getElementById("scrub-form");
const statusLine = document.getElementById("status");
const strength = document.getElementById("strength");
let maxUploadBytes = Infinity;
let albumLimits = null;  // null: this server cannot group faces into people

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.className = isError ? "error" : "";
}

async function loadAttributes() {
  const box = document.getElementById("attributes");
  const reply = await fetch("/v1/attributes");
  const info = await reply.json();
  maxUploadBytes = info.limits.max_upload_bytes;
  albumLimits = info.album ? info.limits : null;
  document.getElementById("album-note").hidden = !info.album;
  box.replaceChildren(Object.assign(document.createElement("legend"), {textContent: "Attributes to hide"}));
  info.attributes.forEach((name, i) => {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"),
      {type: "checkbox", name: "attribute", value: name, checked: i === 0});
    label.append(input, " " + name.replaceAll("_", " "));
    box.append(label);
  });
}

strength.addEventListener("input", () => {
  document.getElementById("strength-value").textContent = Number(strength.value).toFixed(2);
});

document.getElementById("photo").addEventListener("change", () => {
  document.getElementById("result").hidden = true;  // a new photo: the old result goes
  document.getElementById("album-result").hidden = true;
  setStatus("");
});

// Several photos: one album request; the people first, then every photo with its report.
async function scrubAlbum(files, chosen) {
  if (!albumLimits) return setStatus("This server cannot scrub albums (no face recognition installed).", true);
  if (files.length > albumLimits.max_album_photos) {
    return setStatus(`An album takes at most ${albumLimits.max_album_photos} photos.`, true);
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (files.some((f) => f.size > maxUploadBytes) || total > albumLimits.max_album_bytes) {
    return setStatus(`The photos are over the limit (${maxUploadBytes / 2 ** 20} MB each, ` +
                     `${albumLimits.max_album_bytes / 2 ** 20} MB together).`, true);
  }
  const body = new FormData();
  files.forEach((f) => body.append("photos", f));
  body.append("attributes", chosen.join(","));
  body.append("mode", form.querySelector("input[name=mode]:checked").value);
  body.append("strength", strength.value);
  const reply = await fetch("/v1/album", {method: "POST", body});
  const result = await reply.json().catch(() => ({}));
  if (reply.status === 503) return setStatus("The service is busy; try again in a moment.", true);
  if (!reply.ok) return setStatus(result.error || `The request failed (HTTP ${reply.status}).`, true);
  window.renderAlbumPeople(document.getElementById("people"), result.album);
  const list = document.getElementById("album-photos");
  list.replaceChildren(...result.photos.map((photo, i) => albumPhoto(photo, files[i])));
  document.getElementById("album-result").hidden = false;
  setStatus(result.no_face.length ? `Done. No face found in ${result.no_face.length} photo(s): ` +
            "they were not scrubbed and are not offered for download." : "Done.");
}

// One photo of an album's result: the scrubbed photo, its download link and its report, or,
// for a photo with no face found, only why it was not scrubbed (never a download link).
// Names go into text nodes and the download attribute only.
function albumPhoto(photo, file) {
  const section = Object.assign(document.createElement("section"), {className: "item"});
  section.append(Object.assign(document.createElement("h2"), {textContent: photo.name}));
  if (!photo.image) {
    section.append(Object.assign(document.createElement("p"), {className: "no-face", textContent: photo.message}));
    return section;
  }
  const afterUrl = `data:${photo.media_type};base64,${photo.image}`;
  const node = document.createElement("div");
  // the before view is the user's own file, read in this browser: the server never sends it back
  window.renderScrubReport(node, photo.report, URL.createObjectURL(file), afterUrl);
  const link = Object.assign(document.createElement("a"), {href: afterUrl, download: photo.name,
                                                          textContent: `Download ${photo.name}`});
  section.append(link, node);
  return section;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = [...document.getElementById("photo").files];
  const file = files[0];
  const chosen = [...form.querySelectorAll("input[name=attribute]:checked")].map((i) => i.value);
  if (!file) return setStatus("Choose a photo first.", true);
  if (!chosen.length) return setStatus("Choose at least one attribute.", true);
  if (files.length > 1) {
    setStatus("Scrubbing the album…");
    document.getElementById("submit").disabled = true;
    try {
      return await scrubAlbum(files, chosen);
    } catch (error) {
      return setStatus(`The request failed: ${error}`, true);
    } finally {
      document.getElementById("submit").disabled = false;
    }
  }
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
    const result = await reply.json().catch(() => ({}));
    if (reply.status === 503) return setStatus("The service is busy; try again in a moment.", true);
    if (!reply.ok) return setStatus(result.error || `The request failed (HTTP ${reply.status}).`, true);
    const afterUrl = `data:${result.media_type};base64,${result.image}`;
    document.getElementById("download").href = afterUrl;
    window.renderScrubReport(document.getElementById("report"), result.report,
                             URL.createObjectURL(file), afterUrl);
    document.getElementById("result").hidden = false;
    setStatus("Done.");
  } catch (error) {
    setStatus(`The request failed: ${error}`, true);
  } finally {
    document.getElementById("submit").disabled = false;
  }
});

loadAttributes().catch((error) => setStatus(`Could not load attributes: ${error}`, true));
