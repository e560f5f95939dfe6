// The page's only way to the system: org.atomic on the system bus, through cockpit.dbus. Calls
// with their signatures, variants in and out, the Changed signal, the jobs through the
// ObjectManager, and each error turned into a sentence a user can act on.

/* global cockpit */

const SERVICE = "org.atomic";
const PATH = "/org/atomic/Manager";
const MANAGER = "org.atomic.Manager";
const JOB = "org.atomic.Job";

// The in-signature of each method the page calls.
const SIGNATURES = {
    Run: "sasa{sv}",
    Install: "sa{sv}",
    Uninstall: "sa{sv}",
    Update: "sa{sv}",
    Pull: "sa{sv}",
    Stop: "sa{sv}",
    RemoveContainer: "sa{sv}",
    RemoveImage: "sa{sv}",
    PruneImages: "a{sv}",
    Info: "sa{sv}",
    ListImages: "a{sv}",
    TrustShow: "",
    ListContainers: "a{sv}",
    Status: "",
    HostUpgrade: "a{sv}",
    Rollback: "a{sv}",
    HostDeploy: "sa{sv}",
    HostPin: "sb",
    HostCleanup: "a{sv}",
    RollbackApplication: "sa{sv}",
};

// What each polkit action lets one do, in the words of the "not allowed" message.
const ACTIONS = {
    "org.atomic.run": "run containers",
    "org.atomic.run-privileged": "run containers with privileges on the host",
    "org.atomic.install": "install applications",
    "org.atomic.uninstall": "uninstall applications or remove images and containers",
    "org.atomic.pull": "pull images",
    "org.atomic.stop": "stop containers",
    "org.atomic.host-upgrade": "upgrade the host",
    "org.atomic.host-rollback": "roll the host back",
    "org.atomic.host-deploy": "deploy host versions",
    "org.atomic.host-cleanup": "pin and clean up host deployments",
    "org.atomic.host-updates-config": "change the automatic update policy",
    "org.atomic.cancel-any": "cancel other users' jobs",
    "org.atomic.manage-any": "use or change containers other users started",
    "org.atomic.trust": "change which images are trusted",
    "org.atomic.fleet-lock": "hold a slot of the fleet's reboot lock for a service",
};

// Turns cockpit's {t, v} variants into plain values, all the way down.
export function unwrap(value) {
    if (Array.isArray(value)) return value.map(unwrap);
    if (value && typeof value === "object") {
        if ("t" in value && "v" in value && Object.keys(value).length === 2) return unwrap(value.v);
        const out = {};
        for (const [k, v] of Object.entries(value)) out[k] = unwrap(v);
        return out;
    }
    return value;
}

// Options as a{sv}: each value with its D-Bus type; undefined and empty values are left out.
export function options(typed) {
    const out = {};
    for (const [key, [type, value]] of Object.entries(typed)) {
        if (value === undefined || value === null || value === "") continue;
        out[key] = cockpit.variant(type, value);
    }
    return out;
}

// A D-Bus error as the user should read it: { kind, text }. kind is "denied", "cancelled",
// "engine", "polkit", "atomicd" or "error"; the last three but one are also worth a banner.
export function explain(error) {
    const name = (error && error.name) || "";
    const message = (error && (error.message || error.problem)) || String(error);
    if (name === "org.freedesktop.DBus.Error.AccessDenied" || name === "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") {
        if (message.includes("polkit cannot be asked") || message.includes("polkit gave no answer"))
            return { kind: "polkit", text: `polkit is not answering, so atomicd allows nothing that needs permission. ${message}` };
        const action = Object.keys(ACTIONS).find(id => message.startsWith(id + " ") || message.includes(id + " "));
        const what = action ? ACTIONS[action] : "do this";
        return { kind: "denied", text: `You are not allowed to ${what}${action ? ` (polkit action ${action})` : ""}. An administrator can grant it.`, detail: message };
    }
    if (name === "org.atomic.Error.Cancelled")
        return { kind: "cancelled", text: message };
    if (name === "org.atomic.Error.EngineUnavailable")
        return { kind: "engine", text: message };
    if (name === "org.freedesktop.DBus.Error.ServiceUnknown" || name === "org.freedesktop.DBus.Error.NameHasNoOwner" ||
        (error && (error.problem === "disconnected" || error.problem === "not-found")))
        return { kind: "atomicd", text: "atomicd is not running and could not be started on the system bus." };
    return { kind: "error", text: message, name };
}

export class Atomic extends EventTarget {
    constructor() {
        super();
        this.client = cockpit.dbus(SERVICE, { bus: "system", superuser: "try" });
        this.manager = this.client.proxy(MANAGER, PATH);
        this.jobs = this.client.proxies(JOB, PATH);
        this.client.subscribe({ path: PATH, interface: MANAGER, member: "Changed" },
            (_path, _iface, _signal, args) => this.dispatchEvent(new CustomEvent("changed", { detail: args[0] })));
        this.client.addEventListener("close", (_event, options) =>
            this.dispatchEvent(new CustomEvent("closed", { detail: options })));
        this.client.addEventListener("owner", (_event, owner) =>
            this.dispatchEvent(new CustomEvent("owner", { detail: owner })));
    }

    // Calls a Manager method; resolves to its first out argument, unwrapped. "i" lets polkit
    // ask for a password through Cockpit where the action allows it.
    async call(method, args) {
        const reply = await this.client.call(PATH, MANAGER, method, args, { type: SIGNATURES[method], flags: "i" });
        return reply && reply.length ? unwrap(reply[0]) : null;
    }

    cancel(jobPath) {
        return this.client.call(jobPath, JOB, "Cancel", [], { type: "", flags: "i" });
    }

    // Output signals of jobs this page started (atomicd sends them to their caller only).
    onOutput(callback) {
        return this.client.subscribe({ interface: JOB, member: "Output" },
            (path, _iface, _signal, args) => callback(path, args[0]));
    }
}
