// The Trust view: the signature policy atomicd enforces (TrustShow), and how a verdict on one
// image reads wherever an image is shown.

import { h, alert, card, descriptionList, empty, label, table } from "./ui.js";

// The colour of each verdict: trusted ones calm, the others loud.
const COLORS = { signed: "green", accepted: "grey", unverified: "grey", unverifiable: "red", rejected: "red" };

export function verdictLabel(verdict) {
    return verdict ? label(verdict, COLORS[verdict] || "grey") : "";
}

// What the policy says of an image (Info's `signature`), for a preview: trusted or why not.
export function signatureBlock(signature, id) {
    if (!signature) return null;
    if (signature.trusted)
        return h("div", { class: "atomic-signature", id },
            verdictLabel(signature.verdict), " ", h("span", {}, signature.shown));
    return alert("warning", `Not trusted (${signature.verdict})`,
        `${signature.reason.replace(/\.?$/, ".")} atomicd refuses to let this image reach the host.`, { id });
}

export function renderTrust(state) {
    const t = state.trust;
    if (!t) return card("Signature policy", empty("Reading the policy…"), { id: "trust-card" });
    const head = descriptionList([["Policy file", t.path], ["Verified for", t.require === "all" ? "every image" : t.require === "none" ? "nothing (shown only)" : "images that reach the host"]]);
    if (!t.present)
        return card("Signature policy", h("div", {}, head, alert("info", "No policy file", "Nothing is verified and nothing is refused.", { id: "trust-none" })), { id: "trust-card" });
    if (t.error)
        return card("Signature policy", h("div", {}, head, alert("danger", "The policy cannot be used", `${t.error} Nothing that needs a trusted image runs until it is fixed.`, { id: "trust-error" })), { id: "trust-card" });
    const where = s => [s.lookaside, s.attachments ? "the registry (cosign)" : null].filter(Boolean).join("; ");
    const row = (s, name) => ({
        key: name,
        cells: [h("strong", {}, name), (s.types || []).map(k => label(k, k === "reject" ? "red" : k === "insecureAcceptAnything" ? "grey" : "blue")), (s.keys || []).join(", "), where(s)],
    });
    const rows = [row(t.default || {}, "default")].concat((t.scopes || []).map(s =>
        row(s, s.transport === "docker" ? (s.scope || "any registry") : `${s.transport}: ${s.scope || "any"}`)));
    return card("Signature policy", h("div", {}, head, table("Signature policy scopes", ["Scope", "Requires", "Keys", "Signatures from"], rows, { id: "trust-scopes" })), { id: "trust-card" });
}
