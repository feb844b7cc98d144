// The QR code of POST /v1/activation/qr as an <img>: `qr_svg` is text from the network, so it
// is never put in the page as markup. It is parsed as XML, and a new SVG is built from the
// few shapes a QR code is drawn with (path, rect, g) and their geometry only; anything else
// (scripts, links, styles, event attributes, foreign elements) is dropped. The result is a
// blob: URL (allowed by the page's img-src), which also gives the SVG the namespace it
// needs as an image (the API's SVG comes without xmlns).

const SVG_NS = "http://www.w3.org/2000/svg";
const ALLOWED = {
  svg: ["width", "height", "viewBox"],
  g: ["transform", "fill", "stroke", "stroke-width"],
  path: ["d", "transform", "fill", "stroke", "stroke-width"],
  rect: ["x", "y", "width", "height", "transform", "fill", "stroke", "stroke-width"],
};
const VALUES = {
  width: /^\d+(\.\d+)?(px)?$/, height: /^\d+(\.\d+)?(px)?$/, x: /^-?\d+(\.\d+)?$/, y: /^-?\d+(\.\d+)?$/,
  viewBox: /^[\d.\s,-]+$/,
  d: /^[MmHhVvLlZz\d.\s,-]+$/,
  transform: /^((scale|translate)\([\d.\s,-]+\)\s*)+$/,
  fill: /^(#[0-9a-fA-F]{3,8}|none|black|white)$/,
  stroke: /^(#[0-9a-fA-F]{3,8}|none|black|white)$/,
  "stroke-width": /^\d+(\.\d+)?$/,
};

function copy(source, target, doc) {
  for (const name of ALLOWED[target.localName] || []) {
    const value = source.getAttribute(name);
    if (value !== null && VALUES[name].test(value.trim())) target.setAttribute(name, value.trim());
  }
  for (const child of source.children) {
    if (!(child.localName in ALLOWED) || child.localName === "svg") continue;
    const made = doc.createElementNS(SVG_NS, child.localName);
    copy(child, made, doc);
    target.append(made);
  }
}

/** A blob: URL of a clean copy of `svgText`, or null when it is not an SVG. */
export function qrImageUrl(svgText) {
  const parsed = new DOMParser().parseFromString(String(svgText), "image/svg+xml");
  const root = parsed.documentElement;
  if (!root || root.localName !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
  const doc = document.implementation.createDocument(SVG_NS, "svg", null);
  const svg = doc.documentElement;
  copy(root, svg, doc);
  const width = Number.parseFloat(svg.getAttribute("width"));
  const height = Number.parseFloat(svg.getAttribute("height"));
  if (!svg.hasAttribute("viewBox") && width > 0 && height > 0) svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // The quiet zone is part of the code: paint it white whatever the page's colours.
  const background = doc.createElementNS(SVG_NS, "rect");
  background.setAttribute("width", "100%");
  background.setAttribute("height", "100%");
  background.setAttribute("fill", "#fff");
  svg.insertBefore(background, svg.firstChild);
  const text = new XMLSerializer().serializeToString(doc);
  return URL.createObjectURL(new Blob([text], {type: "image/svg+xml"}));
}

/** A QR session ID as a person reads it: groups of four, spaces between (rules.md). */
export function groupSessionId(sessionId) {
  const plain = String(sessionId).replace(/[\s-]/g, "");
  return (plain.match(/.{1,4}/g) || []).join(" ");
}
