// The Containers and images view: atomicd's containers (Stop, Run again, Remove) and the local
// images with their labels (Run one detached, after its preview; Remove; remove the dangling).

import { h, button, card, empty, label, table, alert, shortId, when } from "./ui.js";
import { linePreview } from "./apps.js";
import { signatureBlock, verdictLabel } from "./trust.js";

function stateLabel(state) {
    const colors = { running: "green", exited: "grey", created: "blue", paused: "orange" };
    return label(state, colors[state] || "grey");
}

export function renderContainers(state, act) {
    const rows = state.containers.map(c => ({
        key: c.name,
        cells: [
            h("strong", {}, c.name),
            c.image,
            stateLabel(c.state),
            c.operation || "",
            c.privileged ? label("privileged", "red") : "",
            h("span", { class: "atomic-row-actions" },
                c.state === "running"
                    ? button("Stop", () => act.stop(c.name), { small: true, id: `stop-${c.name}`, aria: `Stop ${c.name}` })
                    : button("Run again", () => act.runAgain(c), { small: true, id: `start-${c.name}`, aria: `Run ${c.name} again` }),
                button("Remove", () => act.removeContainer(c), { small: true, variant: "danger", id: `remove-${c.name}`, aria: `Remove ${c.name}`, disabled: c.state === "running" })),
        ],
    }));
    const images = state.images.map(i => ({
        key: i.image,
        cells: [
            h("strong", {}, i.image),
            h("code", {}, shortId(i["image-id"])),
            (i.labels || []).map(l => label(l, "blue")),
            when(i.created),
            i.installed ? label("installed", "green") : "",
            verdictLabel(i.verified),
            h("span", { class: "atomic-row-actions" },
                button("Run…", () => act.runPreview(i.image), { small: true, id: `run-${i.image.replace(/[^a-zA-Z0-9]/g, "-")}`, aria: `Run ${i.image}` }),
                button("Remove", () => act.removeImage(i), { small: true, variant: "danger", id: `remove-image-${i["image-id"].replace(/[^a-zA-Z0-9]/g, "-")}`, aria: `Remove image ${i.image}` })),
        ],
    }));
    const p = state.runPreview;
    const runBox = p
        ? h("div", { class: "atomic-preview", id: "run-preview", "data-image": p.image },
            h("h3", { class: "pf-v5-c-title pf-m-md" }, `Run ${p.image} detached`),
            signatureBlock(p.info.signature, "run-signature"),
            p.info.run ? linePreview("RUN", p.info.run) : h("p", {}, "No RUN label: its default command runs, confined."),
            h("div", { class: "atomic-actions" },
                button("Run", () => act.run(p.image), { id: "run-confirm", variant: "primary", disabled: p.info.run && p.info.run.supported === false }),
                button("Cancel", () => act.clearRunPreview(), { variant: "link", id: "run-cancel" })))
        : null;
    return h("div", {},
        card("Containers", h("div", {},
            state.errors.containers ? alert(state.errors.containers.variant || "danger", state.errors.containers.title, state.errors.containers.text, { id: "containers-error" }) : null,
            state.containers.length ? table("Containers", ["Name", "Image", "State", "Made by", "", ""], rows, { id: "containers" })
                : empty("atomicd has made no containers.")), { id: "containers-card" }),
        card("Images", h("div", {}, runBox,
            h("div", { class: "atomic-actions" },
                button("Remove dangling images", () => act.pruneImages(), { id: "prune-images", variant: "secondary" })),
            state.images.length ? table("Images", ["Image", "ID", "Labels", "Created", "", "Signature", ""], images, { id: "images" })
                : empty("No images.")), { id: "images-card" }));
}
