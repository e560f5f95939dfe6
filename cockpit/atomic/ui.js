// Small DOM helpers in PatternFly 5's markup: elements, buttons, alerts, progress bars,
// description lists and a confirmation dialog. Text always goes in as text, never as HTML, and
// with its control and format characters escaped.

// A label's text as a person may see it: control characters (but line breaks and tabs, which a
// page shows as they are) and format characters (bidi overrides and isolates, zero-width
// joiners: Unicode's Cf) written as \u{...}, so no text shows in another order than it runs in.
export function visible(text) {
    return String(text).replace(/[\p{Cc}\p{Cf}]/gu,
        c => (c === "\n" || c === "\t") ? c : `\\u{${c.codePointAt(0).toString(16)}}`);
}

export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
        if (value === undefined || value === null || value === false) continue;
        if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
        else if (key === "class") el.className = value;
        else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
        if (child === null || child === undefined || child === false) continue;
        el.append(child instanceof Node ? child : document.createTextNode(visible(child)));
    }
    return el;
}

export function button(label, onclick, { variant = "secondary", id, disabled, small, aria } = {}) {
    return h("button", {
        class: `pf-v5-c-button pf-m-${variant}${small ? " pf-m-small" : ""}`,
        type: "button",
        id,
        disabled: disabled ? true : undefined,
        "aria-label": aria,
        onclick,
    }, label);
}

// A PatternFly inline alert: variant is danger, warning, info or success.
export function alert(variant, title, body, { id, actions } = {}) {
    return h("div", { class: `pf-v5-c-alert pf-m-inline pf-m-${variant}`, id, role: variant === "danger" ? "alert" : "status" },
        h("p", { class: "pf-v5-c-alert__title" }, h("span", { class: "pf-v5-screen-reader" }, `${variant} alert:`), title),
        body ? h("div", { class: "pf-v5-c-alert__description" }, body) : null,
        actions ? h("div", { class: "pf-v5-c-alert__action-group" }, actions) : null);
}

// progress: 0..1, or negative when unknown (an indeterminate bar).
export function progress(value, message, label) {
    const known = value >= 0;
    const percent = known ? Math.round(value * 100) : 0;
    // Through the CSSOM: Cockpit's Content-Security-Policy drops style attributes.
    const indicator = h("div", { class: "pf-v5-c-progress__indicator" });
    indicator.style.width = `${known ? percent : 100}%`;
    return h("div", { class: `pf-v5-c-progress pf-m-sm${known ? "" : " atomic-indeterminate"}` },
        h("div", { class: "pf-v5-c-progress__description" }, message || ""),
        h("div", { class: "pf-v5-c-progress__status", "aria-hidden": "true" },
            h("span", { class: "pf-v5-c-progress__measure" }, known ? `${percent}%` : "")),
        h("div", {
            class: "pf-v5-c-progress__bar",
            role: "progressbar",
            "aria-label": label,
            "aria-valuemin": "0",
            "aria-valuemax": "100",
            "aria-valuenow": known ? String(percent) : undefined,
            "aria-valuetext": message || undefined,
        }, indicator));
}

export function descriptionList(pairs) {
    return h("dl", { class: "pf-v5-c-description-list pf-m-horizontal pf-m-compact" },
        pairs.filter(([, value]) => value !== undefined && value !== null && value !== "").map(([term, value]) =>
            h("div", { class: "pf-v5-c-description-list__group" },
                h("dt", { class: "pf-v5-c-description-list__term" }, h("span", { class: "pf-v5-c-description-list__text" }, term)),
                h("dd", { class: "pf-v5-c-description-list__description" }, h("div", { class: "pf-v5-c-description-list__text" }, value)))));
}

export function card(title, body, { id, actions } = {}) {
    return h("article", { class: "pf-v5-c-card atomic-card", id },
        h("div", { class: "pf-v5-c-card__header" },
            h("div", { class: "pf-v5-c-card__title" }, h("h2", { class: "pf-v5-c-card__title-text" }, title)),
            actions ? h("div", { class: "pf-v5-c-card__actions" }, actions) : null),
        h("div", { class: "pf-v5-c-card__body" }, body));
}

export function label(text, color) {
    return h("span", { class: `pf-v5-c-label pf-m-compact${color ? ` pf-m-${color}` : ""}` },
        h("span", { class: "pf-v5-c-label__content" }, text));
}

export function empty(text) {
    return h("p", { class: "atomic-empty" }, text);
}

// A table with a header row; rows are arrays of cells (text or nodes), each cell labelled with
// its column for the narrow layout.
export function table(caption, columns, rows, { id } = {}) {
    return h("table", { class: "pf-v5-c-table pf-m-compact pf-m-grid-md", role: "grid", "aria-label": caption, id },
        h("thead", { class: "pf-v5-c-table__thead" }, h("tr", { class: "pf-v5-c-table__tr" },
            columns.map(c => h("th", { class: "pf-v5-c-table__th", scope: "col" }, c)))),
        h("tbody", { class: "pf-v5-c-table__tbody" }, rows.map(row => h("tr", { class: "pf-v5-c-table__tr", "data-key": row.key },
            row.cells.map((cell, i) => h("td", { class: "pf-v5-c-table__td", "data-label": columns[i] }, cell))))));
}

// A modal dialog that resolves true on confirm, false on cancel or Escape.
export function confirmDialog(title, body, confirmLabel, { variant = "primary" } = {}) {
    return new Promise(resolve => {
        const previous = document.activeElement;
        let backdrop;
        const close = answer => {
            backdrop.remove();
            if (previous && previous.focus) previous.focus();
            resolve(answer);
        };
        const ok = button(confirmLabel, () => close(true), { variant, id: "dialog-confirm" });
        const cancel = button("Cancel", () => close(false), { variant: "link", id: "dialog-cancel" });
        const box = h("div", {
            class: "pf-v5-c-modal-box pf-m-md",
            role: "dialog",
            "aria-modal": "true",
            "aria-labelledby": "dialog-title",
            onkeydown: e => { if (e.key === "Escape") close(false); },
        },
        h("header", { class: "pf-v5-c-modal-box__header" }, h("h1", { class: "pf-v5-c-modal-box__title", id: "dialog-title" }, title)),
        h("div", { class: "pf-v5-c-modal-box__body" }, body),
        h("footer", { class: "pf-v5-c-modal-box__footer" }, ok, cancel));
        backdrop = h("div", { class: "pf-v5-c-backdrop" }, h("div", { class: "pf-v5-l-bullseye" }, box));
        document.body.append(backdrop);
        ok.focus();
    });
}

export function formGroup(labelText, control, helper) {
    const input = control.querySelector ? control.querySelector("input, select, textarea") : null;
    const id = (input || control).id;
    return h("div", { class: "pf-v5-c-form__group" },
        h("div", { class: "pf-v5-c-form__group-label" }, h("label", { class: "pf-v5-c-form__label", for: id }, h("span", { class: "pf-v5-c-form__label-text" }, labelText))),
        h("div", { class: "pf-v5-c-form__group-control" }, control,
            helper ? h("div", { class: "pf-v5-c-form__helper-text" }, h("div", { class: "pf-v5-c-helper-text" }, h("div", { class: "pf-v5-c-helper-text__item" }, h("span", { class: "pf-v5-c-helper-text__item-text" }, helper)))) : null));
}

// A text input whose value lives in `values` (by id), so a re-render keeps what was typed.
export function textInput(id, placeholder, values) {
    return h("span", { class: "pf-v5-c-form-control" }, h("input", {
        type: "text", id, name: id, placeholder, autocomplete: "off", spellcheck: "false",
        value: values && values[id] ? values[id] : undefined,
        oninput: e => { if (values) values[id] = e.target.value; },
    }));
}

export function when(seconds) {
    if (!seconds) return "";
    return new Date(Number(seconds) * 1000).toLocaleString();
}

export function shortId(id) {
    return String(id || "").replace(/^sha256:/, "").slice(0, 12);
}
