// The Atomic page's scenarios in headless Chromium (Debian's, driven by playwright-core), against
// the cockpit-ws, atomicd, podman and ostree remote that run.sh started. Each scenario prints
// what it saw; the screenshots of each view go to tests/cockpit/screenshots/.

import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = process.env.COCKPIT_HERE;
const ROOT_URL = process.env.ROOT_URL;
const USER_URL = process.env.USER_URL;
const ENGINE_SOCK = process.env.ENGINE_SOCK;
const CLI = process.env.ATOMIC_CLI;
const PAGE_PATH = "/cockpit/@localhost/atomic/index.html";
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), "screenshots");
const APP_FILE = "/var/tmp/atomicd-app/cockpit-app.installed";

mkdirSync(SHOTS, { recursive: true });
let failed = 0;

function sh(cmd, args) {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function commit(version, files) {
    sh("bash", ["-c", `mkdir -p ${HERE}/tree/usr/share/filler && for i in $(seq ${files}); do echo ${version}-$i > ${HERE}/tree/usr/share/filler/f$i; done
        ostree --repo=${HERE}/remote commit -b testos/stable --add-metadata-string=version=${version} --tree=dir=${HERE}/tree >/dev/null`]);
}

// The engine run.sh started (or engineStart did), by the PID recorded beside it: never by name.
const ENGINE_PID = `${HERE}/podman.pid`;

function engineStop() {
    const pid = Number(readFileSync(ENGINE_PID, "utf8").trim());
    process.kill(pid);
}

function engineStart() {
    const child = spawn("podman", ["system", "service", "--time=0", `unix://${ENGINE_SOCK}`], { detached: true, stdio: "ignore" });
    writeFileSync(ENGINE_PID, `${child.pid}\n`);
    child.unref();
}

async function scenario(name, page, fn) {
    const started = Date.now();
    try {
        await fn();
        console.log(`ok: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (error) {
        failed += 1;
        console.log(`FAILED: ${name}: ${error.message.split("\n").slice(0, 12).join("\n  ")}`);
        // What the page said when it failed: its alerts name the error atomicd returned.
        const alerts = await page.locator(".pf-v5-c-alert").allTextContents().catch(() => []);
        for (const text of alerts) console.log(`   alert on the page: ${text.replace(/\s+/g, " ").trim().slice(0, 300)}`);
        await page.screenshot({ path: join(SHOTS, `failed-${name.replace(/[^a-z0-9]+/gi, "-")}.png`), fullPage: true }).catch(() => {});
    }
}

// The page scrolls inside PatternFly's main element, so the window grows to show all of it.
async function shot(page, name) {
    const viewport = page.viewportSize();
    const height = await page.evaluate(() => document.querySelector("main").scrollHeight);
    await page.setViewportSize({ width: viewport.width, height: Math.min(Math.max(height, viewport.height), 3000) });
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    await page.setViewportSize(viewport);
    console.log(`   screenshot: tests/cockpit/screenshots/${name}.png`);
}

async function open(browser, base, viewport = { width: 1280, height: 900 }) {
    const page = await browser.newPage({ viewport });
    page.on("pageerror", e => console.log(`   page error: ${e.message}`));
    await page.goto(base + PAGE_PATH);
    await page.locator("#summary").filter({ hasText: "atomicd" }).waitFor({ timeout: 15000 });
    return page;
}

// Types an image (and a name) into the Install form and waits for the preview of that image:
// the one a previous request showed is still on the page until the new answer replaces it.
async function previewOf(page, image, name = "") {
    await page.getByRole("textbox", { name: "Image" }).fill(image);
    await page.getByRole("textbox", { name: "Name" }).fill(name);
    await page.getByRole("button", { name: "Show what it does" }).click();
    const preview = page.locator(`#install-preview[data-image="${image}"]`);
    await preview.waitFor({ timeout: 20000 });
    return preview;
}

async function view(page, name) {
    await page.getByRole("tab", { name }).click();
}

// Waits until the deployments table shows `version` as the default (the page reads Status
// again when atomicd signals the host changed).
async function waitDefault(page, version, timeout = 30000) {
    await page.waitForFunction(v => {
        const rows = [...document.querySelectorAll("#deployments tbody tr")];
        const def = rows.find(r => [...r.querySelectorAll(".pf-v5-c-label")].some(l => l.textContent === "default"));
        return def && def.querySelector("strong").textContent === v;
    }, version, { timeout });
}

async function defaultVersion(page) {
    const row = page.locator("#deployments tbody tr").filter({ has: page.locator(".pf-v5-c-label", { hasText: "default" }) });
    return (await row.locator("strong").first().textContent()).trim();
}

const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
});
const page = await open(browser, ROOT_URL);
console.log(`   page: ${await page.locator("#summary").textContent()}`);

await scenario("the host view shows the backend and its deployments", page, async () => {
    await page.locator("#host-card h2", { hasText: "Host (ostree)" }).waitFor();
    await page.locator("#deployments tbody tr").first().waitFor();
    if (await defaultVersion(page) !== "1.0") throw new Error(`default is ${await defaultVersion(page)}`);
    const auto = (await page.locator("#host-updates").textContent()).replace(/\s+/g, " ");
    if (!auto.includes("none (strategy immediate)")) throw new Error(`automatic updates: ${auto}`);
    console.log(`   ${auto.trim()}`);
    await shot(page, "host");
});

await scenario("install a labelled image after its preview", page, async () => {
    rmSync(APP_FILE, { force: true });
    await view(page, "Applications");
    const preview = await previewOf(page, "atomic-test/app", "cockpit-app");
    const privileges = await preview.locator("ul[aria-label='What INSTALL may do to the host'] li").allTextContents();
    const shown = await preview.locator(".atomic-command").first().textContent();
    console.log(`   INSTALL preview: ${shown}`);
    // The words as the CLI quotes them (command.js, held to display_line): sh -c's script is one word.
    if (!shown.includes("sh -c 'echo installed as cockpit-app > /out/cockpit-app.installed'"))
        throw new Error(`the preview does not quote the command as the CLI does: ${shown}`);
    console.log(`   privileges shown: ${JSON.stringify(privileges)}`);
    if (!privileges.some(p => p.includes("/var/tmp/atomicd-app"))) throw new Error("the host mount is not among the privileges");
    await shot(page, "install-preview");
    await page.locator("#install-confirm").click();
    await page.locator("#installed tr[data-key='cockpit-app']").waitFor({ timeout: 30000 });
    await page.locator("#apps-output h3", { hasText: "exit code 0" }).waitFor();
    if (!existsSync(APP_FILE)) throw new Error(`${APP_FILE} was not written`);
    console.log(`   record shown; ${APP_FILE} exists`);
    // An INSTALL label that prints: its output shows in the page as it comes.
    await (await previewOf(page, "atomic-test/installable", "cockpit-inst")).locator("#install-confirm").click();
    await page.locator("#apps-output pre", { hasText: "installing" }).waitFor({ timeout: 30000 });
    await page.locator("#installed tr[data-key='cockpit-inst']").waitFor({ timeout: 30000 });
    console.log(`   its label's output: ${(await page.locator("#apps-output pre").textContent()).trim()}`);
    await shot(page, "applications");
});

await scenario("the Services table shows an application's unit and updates, and rolls it back", page, async () => {
    // run.sh recorded cockpit-svc as atomicd does; this world has no systemd, so the unit's state
    // is atomicd's "unknown: ..." and a rollback moves the record but cannot restart the unit.
    await view(page, "Applications");
    const row = page.locator("#services tr[data-key='cockpit-svc']");
    await row.waitFor({ timeout: 10000 });
    const cells = (await row.textContent()).replace(/\s+/g, " ");
    console.log(`   row: ${cells.trim()}`);
    for (const want of ["atomic-test/hello", "unknown", "no automatic updates", "up to date", "updated: a new image runs"])
        if (!cells.includes(want)) throw new Error(`the row does not say ${JSON.stringify(want)}`);
    await shot(page, "services");
    const before = sh(CLI, ["apps", "--json"]);
    const previous = JSON.parse(before).find(a => a.name === "cockpit-svc")["previous-image-id"];
    await row.getByRole("button", { name: "Roll cockpit-svc back" }).click();
    const dialog = page.locator("[role=dialog]", { hasText: "Roll cockpit-svc back" });
    await dialog.waitFor({ timeout: 10000 });
    if (!(await dialog.textContent()).includes(previous.replace(/^sha256:/, "").slice(0, 12)))
        throw new Error("the dialog does not name the image it goes back to");
    await page.locator("#dialog-confirm").click();
    const error = page.locator("#services-error");
    await error.waitFor({ timeout: 20000 });
    const said = (await error.textContent()).replace(/\s+/g, " ");
    console.log(`   ${said.trim()}`);
    if (!said.includes("restarting atomic-app-cockpit-svc.service failed")) throw new Error("the restart's failure is not shown");
    // The record moved (the unit runs it at its next start): the CLI and the row agree.
    const after = JSON.parse(sh(CLI, ["apps", "--json"])).find(a => a.name === "cockpit-svc");
    if (after["image-id"] !== previous) throw new Error(`the record runs ${after["image-id"]}, not ${previous}`);
    await row.filter({ hasText: "runs at its next start" }).waitFor({ timeout: 10000 });
    console.log("   the record names the earlier image; the row's last result says so");
});

await scenario("an image that asks to be a service shows the choice, and Install sends it", page, async () => {
    await view(page, "Applications");
    const preview = await previewOf(page, "atomic-test/service", "cockpit-svc2");
    const box = preview.locator("#install-service");
    if (!await box.isChecked()) throw new Error("org.atomic.service=true did not check the box");
    // Unchecked, an image without an INSTALL label has nothing to install.
    await box.uncheck();
    await preview.locator("#install-confirm").waitFor({ state: "detached", timeout: 5000 });
    await preview.locator("#install-service").check();
    await preview.locator("#install-confirm").click();
    // Installing as a service needs systemd, which this world has not got: atomicd says so,
    // which shows the page asked for a service.
    const error = page.locator("#install-error");
    await error.waitFor({ timeout: 20000 });
    const said = (await error.textContent()).replace(/\s+/g, " ");
    console.log(`   ${said.trim()}`);
    if (!said.includes("atomic-app-cockpit-svc2")) throw new Error("the error is not about the service's unit");
    if (JSON.parse(sh(CLI, ["apps", "--json"])).some(a => a.name === "cockpit-svc2")) throw new Error("a record was left");
});

await scenario("run an image detached after its preview, then stop it", page, async () => {
    await view(page, "Containers and images");
    await page.getByRole("button", { name: "Run localhost/atomic-test/svc:latest" }).click();
    const preview = page.locator("#run-preview");
    await preview.waitFor();
    console.log(`   RUN preview: ${await preview.locator(".atomic-command").textContent()}`);
    await page.locator("#run-confirm").click();
    const row = page.locator("#containers tr[data-key='svc']");
    await row.locator(".pf-v5-c-label", { hasText: "running" }).waitFor({ timeout: 20000 });
    await shot(page, "containers");
    await row.getByRole("button", { name: "Stop svc" }).click();
    await row.locator(".pf-v5-c-label", { hasText: "exited" }).waitFor({ timeout: 30000 });
    console.log("   svc: running, then exited");
    await row.getByRole("button", { name: "Remove svc" }).click();
    await page.locator("[role=dialog]", { hasText: "docker rm svc" }).waitFor({ timeout: 10000 });
    await page.locator("#dialog-confirm").click();
    await row.waitFor({ state: "detached", timeout: 20000 });
    if (sh("podman", ["ps", "-a", "--format", "{{.Names}}"]).split("\n").includes("svc")) throw new Error("svc is still there");
    console.log("   svc removed with RemoveContainer; its image stays");
});

await scenario("remove an image nothing uses; its other name stays", page, async () => {
    // An image of its own with two names: the page lists it under one of them (the engine's
    // first), and removing that name leaves the image under the other.
    const base = "localhost/atomic-test/removable";
    sh("bash", ["-c", `tar -c -T /dev/null | podman import - ${base}-a:latest >/dev/null`]);
    sh("podman", ["tag", `${base}-a:latest`, `${base}-b:latest`]);
    await view(page, "Containers and images");
    const row = page.locator(`#images tr[data-key^='${base}-']`);
    await row.waitFor({ timeout: 20000 });
    const shown = await row.getAttribute("data-key");
    const other = shown === `${base}-a:latest` ? `${base}-b:latest` : `${base}-a:latest`;
    await row.getByRole("button", { name: `Remove image ${shown}` }).click();
    await page.locator("[role=dialog]", { hasText: `docker rmi ${shown}` }).waitFor({ timeout: 10000 });
    await page.locator("#dialog-confirm").click();
    await page.locator(`#images tr[data-key='${other}']`).waitFor({ timeout: 20000 });
    const names = sh("podman", ["images", "--format", "{{.Repository}}:{{.Tag}}"]).split("\n");
    sh("podman", ["rmi", "-f", other]);
    if (names.includes(shown)) throw new Error(`${shown} is still there: ${names}`);
    if (!names.includes(other)) throw new Error(`its other name ${other} went too`);
    console.log(`   ${shown} removed with RemoveImage; the image stays as ${other}`);
});

await scenario("the Trust view lists the policy, and previews and images show each verdict", page, async () => {
    await view(page, "Trust");
    const scope = page.locator("#trust-scopes tr[data-key='127.0.0.1:5000/atomic-test/signed']");
    await scope.waitFor({ timeout: 10000 });
    const requires = (await scope.textContent()).replace(/\s+/g, " ");
    if (!requires.includes("signedBy") || !requires.includes("signer.gpg")) throw new Error(`the signed scope shows ${requires}`);
    console.log(`   ${await page.locator("#trust-scopes tbody tr").count()} scopes; ${requires.trim()}`);
    await shot(page, "trust");
    await view(page, "Applications");
    const verdictOf = async image => {
        const block = (await previewOf(page, image)).locator("#install-signature");
        return (await block.textContent()).replace(/\s+/g, " ").trim();
    };
    const signed = await verdictOf("127.0.0.1:5000/atomic-test/signed:latest");
    console.log(`   signed: ${signed}`);
    if (!signed.includes("signed by")) throw new Error(`the signed image's preview says ${signed}`);
    const unsigned = await verdictOf("127.0.0.1:5000/atomic-test/unsigned:latest");
    console.log(`   unsigned: ${unsigned.slice(0, 160)}`);
    if (!unsigned.includes("Not trusted") || !unsigned.includes("no signature")) throw new Error(`the unsigned image's preview says ${unsigned}`);
    await shot(page, "install-untrusted");
    if (await page.locator("#install-cancel").count()) await page.locator("#install-cancel").click();
    await view(page, "Containers and images");
    // One row per image, verified as its first tag names it.
    const rows = await page.locator("#images tbody tr").evaluateAll(trs => trs.map(tr =>
        [tr.dataset.key, [...tr.querySelectorAll(".pf-v5-c-label")].map(l => l.textContent)]));
    const shown = rows.filter(([, labels]) => labels.some(l => ["signed", "accepted", "rejected", "unverifiable", "unverified"].includes(l)));
    console.log(`   verdicts in the images table: ${shown.slice(0, 4).map(([k, l]) => `${k}: ${l.join(",")}`).join("; ")}`);
    if (shown.length !== rows.length) throw new Error(`rows without a verdict: ${JSON.stringify(rows)}`);
    if (!shown.some(([, l]) => l.includes("accepted"))) throw new Error("no image is shown as accepted by the default");
});

await scenario("upgrade the host with a visible progress bar", page, async () => {
    commit("2.0", 300);
    await view(page, "Host");
    await page.locator("#host-upgrade").click();
    const bar = page.locator("#host-card [role=progressbar]");
    await bar.waitFor({ timeout: 10000 });
    const seen = new Set();
    const fractions = new Set();
    let shotTaken = false;
    const widths = [];
    for (let i = 0; i < 100 && await bar.count(); i++) {
        const text = await bar.first().getAttribute("aria-valuetext").catch(() => null);
        const now = await bar.first().getAttribute("aria-valuenow").catch(() => null);
        if (text) seen.add(text.replace(/\d+/g, "N"));
        if (now !== null) fractions.add(Number(now));
        // The bar is drawn as far as it says (a width the page's CSP would drop if set as a
        // style attribute): value and width read together from one element, since the page
        // may draw a new bar between two reads.
        const sample = await bar.first().evaluate(el => [Number(el.getAttribute("aria-valuenow")),
            Math.round(100 * el.querySelector(".pf-v5-c-progress__indicator").getBoundingClientRect().width /
                el.getBoundingClientRect().width)]).catch(() => null);
        if (sample && sample[0] > 0 && sample[0] < 100) widths.push(sample);
        if (!shotTaken && now !== null && Number(now) > 0 && Number(now) < 100) {
            await shot(page, "host-upgrading");
            shotTaken = true;
        }
        await page.waitForTimeout(100);
    }
    console.log(`   job messages seen: ${[...seen].join(" | ")}`);
    console.log(`   progress values seen (%): ${[...fractions].sort((a, b) => a - b).join(", ")}`);
    if (![...fractions].some(f => f > 0 && f < 100)) throw new Error("the bar never showed a fraction done");
    console.log(`   (value %, drawn %): ${widths.slice(0, 4).map(w => `(${w[0]}, ${w[1]})`).join(" ")}`);
    // Each value is drawn to its width (a sample taken mid-layout may lag; every value must
    // have one that matches).
    const values = [...new Set(widths.map(([said]) => said))];
    const undrawn = values.filter(v => !widths.some(([said, drawn]) => said === v && Math.abs(said - drawn) <= 3));
    if (!values.length || undrawn.length) throw new Error(`the bar is not drawn as its value says: ${JSON.stringify(widths)}`);
    await page.waitForFunction(() => !document.querySelector("#host-card [role=progressbar]"), null, { timeout: 60000 });
    await waitDefault(page, "2.0");
    console.log("   default is 2.0");
});

await scenario("cancel an upgrade, then roll back", page, async () => {
    commit("3.0", 600);
    await page.locator("#host-upgrade").click();
    const cancel = page.locator("#host-card .atomic-job button", { hasText: "Cancel" });
    await cancel.waitFor({ timeout: 10000 });
    await page.waitForTimeout(500);
    await cancel.click();
    const error = page.locator("#host-error");
    await error.waitFor({ timeout: 30000 });
    console.log(`   after Cancel: ${(await error.textContent()).trim()}`);
    if (!/cancelled; the host is as it was/i.test(await error.textContent())) throw new Error("no cancellation shown");
    if (await defaultVersion(page) !== "2.0") throw new Error("the cancelled upgrade changed the default");
    await page.locator("#host-rollback").click();
    await waitDefault(page, "1.0");
    console.log("   rolled back: default is 1.0");
    await shot(page, "host-rolled-back");
});

await scenario("a change made with the atomic CLI shows within a second", page, async () => {
    await view(page, "Containers and images");
    const started = Date.now();
    sh(CLI, ["run", "--detach", "--quiet", "--name", "cli-made", "atomic-test/svc"]);
    const returned = Date.now();
    await page.locator("#containers tr[data-key='cli-made']").waitFor({ timeout: 1000 });
    console.log(`   cli-made shown ${Date.now() - returned} ms after the CLI returned (${returned - started} ms in the CLI)`);
    sh(CLI, ["stop", "--timeout", "1", "cli-made"]);
});

await scenario("the engine stopped mid-test is a banner, and the page recovers", page, async () => {
    engineStop();
    await page.locator("#banner-engine").waitFor({ timeout: 15000 });
    console.log(`   banner: ${(await page.locator("#banner-engine").textContent()).trim()}`);
    await shot(page, "engine-down");
    engineStart();
    await page.locator("#banner-engine").waitFor({ state: "detached", timeout: 30000 });
    await page.locator("#containers tr[data-key='cli-made']").waitFor({ timeout: 15000 });
    console.log("   banner gone and the containers are back");
});

await scenario("jobs of every caller with Cancel", page, async () => {
    commit("4.0", 600);
    const upgrade = spawn(CLI, ["host", "upgrade"], { stdio: "ignore" });
    const exited = new Promise(resolve => upgrade.on("exit", resolve));
    await view(page, "Jobs");
    const job = page.locator("#jobs-card .atomic-job", { hasText: "HostUpgrade" });
    await job.waitFor({ timeout: 10000 });
    await shot(page, "jobs");
    await job.getByRole("button", { name: /Cancel/ }).click();
    await job.waitFor({ state: "detached", timeout: 30000 });
    const code = await exited;
    console.log(`   the CLI's upgrade, cancelled from the page as root: atomic exited ${code}`);
    if (code === 0) throw new Error("the CLI's upgrade was not cancelled");
});

await scenario("every control has a name, and the keyboard reaches the views", page, async () => {
    const unnamed = await page.evaluate(() => [...document.querySelectorAll("button, input, select, textarea")]
        .filter(el => {
            const labelled = el.labels && el.labels.length > 0;
            return !(el.getAttribute("aria-label") || labelled || (el.textContent || "").trim());
        })
        .map(el => el.outerHTML.slice(0, 80)));
    if (unnamed.length) throw new Error(`controls without a name: ${unnamed.join(", ")}`);
    await page.getByRole("tab", { name: "Host" }).focus();
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    // The view follows the location's hash, which changes after the key's click.
    await page.locator("#view-apps").waitFor({ state: "visible", timeout: 5000 }).catch(() => {
        throw new Error("Tab then Enter from the Host tab did not open Applications");
    });
    console.log("   every button and input is named; Tab + Enter switches views");
});

await scenario("usable at phone width", page, async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await view(page, "Applications");
    await shot(page, "phone-applications");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`the page is ${overflow} px wider than the phone`);
    await page.setViewportSize({ width: 1280, height: 900 });
});

const user = await open(browser, USER_URL);
await scenario("an unprivileged user sees the data but may not install", user, async () => {
    await view(user, "Applications");
    await user.locator("#installed tr[data-key='cockpit-app']").waitFor({ timeout: 10000 });
    console.log("   the installed records show to the unprivileged user");
    await user.getByRole("textbox", { name: "Image" }).fill("atomic-test/installable");
    await user.getByRole("textbox", { name: "Image" }).press("Enter");
    await user.locator('#install-preview[data-image="atomic-test/installable"] #install-confirm').click();
    const error = user.locator("#install-error");
    await error.waitFor({ timeout: 20000 });
    const text = (await error.textContent()).trim();
    console.log(`   ${text}`);
    if (!text.includes("not allowed to install applications")) throw new Error("no clear refusal");
    await shot(user, "not-allowed");
});

await browser.close();
if (failed) {
    console.log(`cockpit: ${failed} scenarios FAILED`);
    process.exit(1);
}
console.log("cockpit: every scenario passed");
