// The Jobs view: every running job of any caller, with progress and Cancel where it still can.

import { h, button, card, empty, progress } from "./ui.js";
import { displayLine } from "./command.js";

// One job: what it is, for whom, its live progress and a Cancel button while it is cancellable.
export function jobRow(job, act) {
    const title = `${job.Operation} ${job.Target}`;
    const name = job.path.split("/").pop();
    return h("div", { class: "atomic-job", "data-job": job.path, id: `job-${name}` },
        h("div", { class: "atomic-job-head" },
            h("strong", {}, title),
            h("span", { class: "atomic-muted" }, ` started by uid ${job.CallerUid}`),
            button("Cancel", () => act.cancel(job.path), {
                small: true,
                variant: "link",
                disabled: !job.Cancellable,
                id: `cancel-${name}`,
                aria: `Cancel ${title}`,
            })),
        progress(job.Progress, job.Message, `Progress of ${title}`),
        job.Command && job.Command.length ? h("code", { class: "atomic-command" }, displayLine(job.Command)) : null);
}

export function renderJobs(state, act) {
    const body = state.jobList.length
        ? h("div", {}, state.jobList.map(j => jobRow(j, act)))
        : empty("No jobs are running.");
    return card("Running jobs", h("div", {}, state.errors.jobs ? h("p", { class: "atomic-error" }, state.errors.jobs.text) : null, body), { id: "jobs-card" });
}
