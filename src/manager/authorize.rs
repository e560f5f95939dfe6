//! Authorization of a plan: the actions it needs and the details polkit shows, both read from
//! the plan that will run and from nothing else.

use super::jobs::Job;
use super::plan::{Operation, Plan, Step};
use super::Manager;
use crate::error::Result;
use crate::system::caller::Caller;
use crate::system::message_ids as ids;
use crate::system::polkit::Action;

/// The actions a plan needs, in the order they are asked. A line that reaches the host needs
/// `run-privileged` whatever the method; a container another caller made needs `manage-any`.
pub(super) fn actions(plan: &Plan) -> Vec<Action> {
    let privileged = !plan.privileges.is_empty();
    let method = match plan.operation {
        // run-privileged covers a Run by itself; Help runs its line as a Run does.
        Operation::Run | Operation::Help if privileged => None,
        Operation::Run | Operation::Help => Some(Action::Run),
        Operation::Install | Operation::Service => Some(Action::Install),
        Operation::Uninstall => Some(Action::Uninstall),
        Operation::Stop => Some(Action::Stop),
    };
    method
        .into_iter()
        .chain(privileged.then_some(Action::RunPrivileged))
        .chain((!plan.other_callers.is_empty()).then_some(Action::ManageAny))
        .collect()
}

/// What polkit is told: the image and its ID, the whole resolved command, the container, and
/// what it may do to the host, so an authentication dialog says what will run.
pub(super) fn details(plan: &Plan) -> Vec<(&'static str, String)> {
    let mut d = vec![
        ("image", plan.image.as_str().to_owned()),
        ("image-id", plan.image_id.clone()),
        ("command", crate::text::display_line(&plan.argv)),
    ];
    if let Some(name) = &plan.name {
        d.push(("container", name.clone()));
    }
    if !plan.privileges.is_empty() {
        d.push(("privileges", plan.privileges.join("; ")));
    }
    if let Some(verdict) = &plan.signature {
        d.push(("signature", verdict.shown()));
    }
    if let Some(unit) = &plan.service {
        d.push(("service", unit.clone()));
    }
    if let Step::Create { replacing: Some(old) } = &plan.step {
        d.push(("replaces", old.clone()));
    }
    let image = match plan.removes_uninstalled_image {
        true => format!("image {} (not installed by atomicd)", plan.image.as_str()),
        false => format!("image {}", plan.image.as_str()),
    };
    let removed: Vec<String> = plan
        .removes
        .iter()
        .map(|c| format!("container {}", c.name))
        .chain(plan.removes_image.then_some(image))
        .collect();
    if !removed.is_empty() {
        d.push(("removes", removed.join(", ")));
    }
    d.extend(other_callers_detail(&plan.other_callers));
    d
}

/// What polkit is told of the other callers a call touches (`uid 0, uid 1000`); none when the
/// caller touches only its own containers.
pub(super) fn other_callers_detail(uids: &[u32]) -> Option<(&'static str, String)> {
    let shown: Vec<String> = uids.iter().map(|u| format!("uid {u}")).collect();
    (!shown.is_empty()).then(|| ("other-callers", shown.join(", ")))
}

impl Manager {
    /// Asks polkit for each of `actions` in turn, with the same details every time; the first
    /// refusal ends it.
    pub(super) async fn ask_all(
        &self,
        caller: &Caller,
        actions: Vec<Action>,
        details: &[(&'static str, String)],
    ) -> Result<()> {
        let borrowed: Vec<(&str, &str)> = details.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for action in actions {
            self.authority.check(caller, action, &borrowed).await?;
        }
        Ok(())
    }

    /// Asks polkit for every action the plan needs, and logs the plan it allowed.
    pub(super) async fn authorize(&self, caller: &Caller, plan: &Plan) -> Result<()> {
        // Every plan is judged by the signature policy first (judge_signature); one that was not
        // is refused here rather than run unverified.
        if plan.signature.is_none() {
            return Err(crate::error::Error::Failed(format!(
                "{} of {:?} was not checked against the signature policy; nothing ran",
                plan.operation.as_str(),
                plan.image.as_str()
            )));
        }
        self.ask_all(caller, actions(plan), &details(plan)).await?;
        let shown = crate::text::display_line(&plan.argv);
        tracing::info!(
            message_id = ids::AUTHORIZED,
            operation = plan.operation.as_str(),
            image = plan.image.as_str(),
            image_id = %plan.image_id,
            uid = caller.uid,
            command = %shown,
            signature = plan.signature.as_ref().map(crate::trust::Verdict::shown).unwrap_or_default(),
            "polkit allowed {} of {}",
            plan.operation.as_str(),
            plan.image.as_str()
        );
        Ok(())
    }

    /// Exports the job that carries out an authorized plan, showing what it runs.
    pub(super) async fn start_job(&self, caller: &Caller, plan: &Plan) -> Job {
        self.jobs.start(plan.operation.as_str(), plan.image.as_str(), caller, plan.shown()).await
    }
}
