//! Authorization of a plan: the actions it needs and the details polkit shows, both read from
//! the plan that will run and from nothing else.

use super::plan::{Operation, Plan};
use super::Manager;
use crate::error::Result;
use crate::system::caller::Caller;
use crate::system::polkit::Action;

/// The actions a plan needs, in the order they are asked. A line that reaches the host needs
/// `run-privileged` whatever the method.
pub fn actions(plan: &Plan) -> Vec<Action> {
    let privileged = !plan.privileges.is_empty();
    match (plan.operation, privileged) {
        (Operation::Run, false) => vec![Action::Run],
        (Operation::Run, true) => vec![Action::RunPrivileged],
        (Operation::Install, p) => [Action::Install].into_iter().chain(p.then_some(Action::RunPrivileged)).collect(),
        (Operation::Uninstall, p) => {
            [Action::Uninstall].into_iter().chain(p.then_some(Action::RunPrivileged)).collect()
        }
    }
}

/// What polkit is told: the image and its ID, the whole resolved command, the container, and
/// what it may do to the host, so an authentication dialog says what will run.
pub fn details(plan: &Plan) -> Vec<(&'static str, String)> {
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
    d
}

impl Manager {
    /// Asks polkit for every action the plan needs.
    pub(super) async fn authorize(&self, caller: &Caller, plan: &Plan) -> Result<()> {
        let details = details(plan);
        let borrowed: Vec<(&str, &str)> = details.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for action in actions(plan) {
            self.authority.check(caller, action, &borrowed).await?;
        }
        Ok(())
    }
}
