// The privacy report, drawn for people: the photo with numbered face boxes (and a
// before/after slider when the original is given), and per face the attacker's belief
// before and after for the chosen attributes (0.5 = "attacker unsure"), in plain language,
// with the other attributes folded away. One renderer for the web page and for
// `infoscrub scrub --report report.html`.
// It builds DOM nodes only (no innerHTML, no eval; names go into text nodes) and loads nothing.
"use strict";

// `style` is an object set through the CSSOM: a page whose CSP forbids inline style
// attributes still allows that.
function el(tag, props = {}, ...children) {
  const {style, ...rest} = props;
  const node = Object.assign(document.createElement(tag), rest);
  if (style) Object.assign(node.style, style);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function pct(p) {
  return `${Math.round(100 * p)}%`;
}

function phrase(report, name) {
  return (report.phrases && report.phrases[name]) || `has the attribute ${name.replaceAll("_", " ")}`;
}

// "is a man" -> "is not a man", "has blond hair" -> "does not have blond hair",
// "wears glasses" -> "does not wear glasses" (every phrase starts with one of these)
function negated(text) {
  if (text.startsWith("is ")) return "is not " + text.slice(3);
  if (text.startsWith("has ")) return "does not have " + text.slice(4);
  if (text.startsWith("wears ")) return "does not wear " + text.slice(6);
  return "does not fit: " + text;
}

// "an attacker who was 94% sure this person wears glasses is now 51% sure"
function sentence(report, name, before, after) {
  const sure = (p) => (p >= 0.5 ? `${pct(p)} sure this person ${phrase(report, name)}`
                                : `${pct(1 - p)} sure this person ${negated(phrase(report, name))}`);
  const unsure = (p) => Math.abs(p - 0.5) < 0.05;
  const now = unsure(after) ? `now unsure (${pct(after)})` : `now ${sure(after)}`;
  return `An attacker who was ${sure(before)} is ${now}.`;
}

// The detected faces as numbered boxes: an SVG overlay in the photo's own pixel coordinates.
function faceBoxes(report) {
  const overlay = svgEl("svg", {viewBox: `0 0 ${report.width} ${report.height}`, class: "boxes",
                                preserveAspectRatio: "none"});
  const stroke = Math.max(2, Math.round(Math.max(report.width, report.height) / 300));
  for (const face of report.faces) {
    const [x1, y1, x2, y2] = face.box;
    overlay.append(svgEl("rect", {x: x1, y: y1, width: x2 - x1, height: y2 - y1, "stroke-width": stroke}));
    const label = svgEl("text", {x: x1 + stroke, y: y1 - stroke, "font-size": Math.max(14, (y2 - y1) / 5)});
    label.textContent = String(face.index);
    overlay.append(label);
  }
  return overlay;
}

// The photo: the after image clipped over the before image, a slider between them, and the
// numbered face boxes.
function comparison(report, beforeUrl, afterUrl) {
  const box = el("div", {className: "compare"});
  const before = el("img", {src: beforeUrl, alt: "before", className: "before"});
  const after = el("img", {src: afterUrl, alt: "after", className: "after"});
  const slider = el("input", {type: "range", min: "0", max: "100", value: "50", className: "slider",
                              ariaLabel: "before / after"});
  const show = () => { after.style.clipPath = `inset(0 0 0 ${slider.value}%)`; };
  slider.addEventListener("input", show);
  show();
  box.append(before, after, faceBoxes(report));
  return el("figure", {className: "photo"}, box, slider,
            el("figcaption", {}, "left of the handle: before (faces numbered); right: after"));
}

// The scrubbed photo alone with the numbered face boxes (the report file without originals).
function scrubbedOnly(report, afterUrl) {
  const box = el("div", {className: "compare"},
                 el("img", {src: afterUrl, alt: "scrubbed", className: "scrubbed"}), faceBoxes(report));
  return el("figure", {className: "photo"}, box,
            el("figcaption", {}, "the scrubbed photo, faces numbered (the original is not in this file)"));
}

// One row of the chart: a track from 0 to 1 with "unsure" at 0.5, the belief before (hollow)
// and after (filled), and the shift between them.
function beliefRow(name, before, after) {
  const track = el("div", {className: "track"},
    el("span", {className: "unsure", title: "0.5: attacker unsure"}),
    el("span", {className: "shift", style: {left: `${100 * Math.min(before, after)}%`,
                                            width: `${100 * Math.abs(after - before)}%`}}),
    el("span", {className: "dot before", style: {left: `${100 * before}%`}, title: `before ${pct(before)}`}),
    el("span", {className: "dot after", style: {left: `${100 * after}%`}, title: `after ${pct(after)}`}));
  return el("div", {className: "belief"}, el("span", {className: "name"}, name.replaceAll("_", " ")),
            track, el("span", {className: "numbers"}, `${pct(before)} → ${pct(after)}`));
}

function faceCard(report, face) {
  const card = el("section", {className: "face"});
  const who = face.person === undefined ? "" : ` — ${face.person_name || "person " + face.person}`;
  card.append(el("h3", {}, `Face ${face.index}${who}` + (face.edited ? "" : " (not edited)")));
  if (face.identity) {
    const id = face.identity;
    card.append(el("p", {className: id.same_person ? "identity kept" : "identity lost"},
      (id.same_person ? "Still recognisable as the same person" : "No longer recognisable as the same person") +
      ` (face-recognition distance ${id.distance.toFixed(2)}; below ${id.threshold} counts as the same person).`));
  }
  if (!face.attacker) {
    card.append(el("p", {className: "muted"}, "No attacker model: no privacy numbers."));
    return card;
  }
  const chosen = report.attributes.filter((name) => face.attacker[name]);
  const chart = el("div", {className: "belief-chart"},
    el("div", {className: "axis"}, el("span", {}, "← absent"), el("span", {}, "unsure"),
       el("span", {}, "present →")));
  for (const name of chosen) {
    const v = face.attacker[name];
    chart.append(beliefRow(name, v.p_before, v.p_after));
  }
  card.append(chart);
  for (const name of chosen) {
    const v = face.attacker[name];
    card.append(el("p", {className: "plain"}, sentence(report, name, v.p_before, v.p_after)));
  }
  if (face.target) {
    card.append(el("p", {className: face.target.reached ? "goal" : "goal missed"},
      `Strength ${face.strength.toFixed(2)} chosen for this face: ` +
      (face.target.reached ? "goal reached" : "goal NOT reached") + ` (${face.target.goal}).`));
  }
  if (face.attacker_after_sharing) {
    const names = {jpeg75: "re-encoded as JPEG 75", resize1080: "downscaled to 1080 px"};
    const parts = Object.entries(face.attacker_after_sharing).map(([channel, ps]) =>
      `${names[channel] || channel}: ` + Object.entries(ps).map(([a, p]) => `${a.replaceAll("_", " ")} ${pct(p)}`).join(", "));
    card.append(el("p", {className: "shared"}, "After sharing — " + parts.join("; ") + "."));
  }
  const others = Object.entries(face.attacker).filter(([name]) => !chosen.includes(name))
    .map(([name, v]) => [name, v.p_before, v.p_after])
    .sort((a, b) => Math.abs(b[2] - b[1]) - Math.abs(a[2] - a[1]));
  if (others.length) {
    const details = el("details", {className: "others"},
      el("summary", {}, "Did anything else change? (largest shifts first)"));
    for (const [name, before, after] of others) details.append(beliefRow(name, before, after));
    card.append(details);
  }
  return card;
}

// Fill `container` with the report of one photo.
function renderScrubReport(container, report, beforeUrl, afterUrl) {
  container.replaceChildren();
  const edited = report.faces.filter((f) => f.edited).length;
  container.append(el("p", {className: "summary"},
    `${report.faces_found} face(s) found, ${edited} edited; mode ${report.mode}; ` +
    `attributes: ${report.attributes.map((a) => a.replaceAll("_", " ")).join(", ")}.`));
  if (beforeUrl && afterUrl) container.append(comparison(report, beforeUrl, afterUrl));
  else if (afterUrl) container.append(scrubbedOnly(report, afterUrl));
  const faces = el("div", {className: "faces"});
  for (const face of report.faces) faces.append(faceCard(report, face));
  container.append(faces);
}

// An album's people (`scrub --album`, the page's album upload): who was found in which
// photos, the one outcome each person got, and the attacker's belief averaged over all of
// their faces, before -> after (what someone who collects the album sees).
function renderAlbumPeople(container, album) {
  const name = (path) => path.split(/[\\/]/).pop();
  const rows = album.people.map((person) => {
    const outcome = person.edited
      ? Object.entries(person.outcome).map(([a, o]) => `${a.replaceAll("_", " ")}: read ${o.value}, shown ${o.shown}`).join("; ")
      : "not edited";
    const over = Object.entries(person.attacker_over_album)
      .map(([a, v]) => `${a.replaceAll("_", " ")} ${pct(v.p_before)} → ${pct(v.p_after)}`).join("; ") || "–";
    return el("tr", {}, el("td", {}, person.name || `person ${person.person}`), el("td", {}, String(person.faces)),
              el("td", {}, person.photos.map(name).join(", ")), el("td", {}, outcome), el("td", {}, over));
  });
  const head = el("tr", {}, ...["Person", "Faces", "Photos", "Outcome", "Attacker over the album"]
    .map((text) => el("th", {}, text)));
  container.replaceChildren(
    el("h2", {}, "People in the album"),
    el("p", {className: "muted"}, `${album.people.length} people among ${album.faces} faces in ${album.photos} ` +
       `photos, grouped by face recognition (distance below ${album.grouping.threshold}). Every face of a person ` +
       "got the same edit, so no photo contradicts another. The last column is the attacker's belief that the " +
       "attribute is present, averaged over all the person's faces, before → after."),
    el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

if (typeof window !== "undefined") {
  window.renderScrubReport = renderScrubReport;
  window.renderAlbumPeople = renderAlbumPeople;
}
