//! The signature verdict of a plan, decided before polkit is asked, and the calls that show and
//! change the policy.

use super::plan::Plan;
use super::Manager;
use crate::engine::{same_image, ImageInfo};
use crate::error::{Error, Result};
use crate::system::caller::Caller;
use crate::system::polkit::Action;
use crate::trust::Edit;
use crate::wire::results::{TrustReport, TrustScope};

impl Manager {
    /// Decides the plan's verdict for the image that runs (the one `info` describes, or the
    /// existing container's own). A plan that must have a trusted image and has not is
    /// Untrusted, unless `display`, which only says it would be.
    pub(super) async fn judge_signature(
        &self,
        plan: &mut Plan,
        info: &ImageInfo,
        display: bool,
    ) -> Result<()> {
        let digests = if same_image(&plan.image_id, &info.id) {
            info.repo_digests.clone()
        } else {
            self.engine.inspect_image(&plan.image_id).await.map(|i| i.repo_digests).unwrap_or_default()
        };
        let verdict = self.trust.verify(plan.image.as_str(), &digests).await;
        let require = self.trust.settings().require;
        let refused = require.applies(!plan.privileges.is_empty()) && !verdict.trusted();
        let sentence = refused.then(|| untrusted(plan, &verdict, require));
        plan.signature = Some(verdict);
        match sentence {
            Some(s) if display => {
                plan.warnings.push(format!("it would be refused: {s}"));
                Ok(())
            }
            Some(s) => {
                tracing::warn!(
                    message_id = crate::system::message_ids::UNTRUSTED,
                    image = plan.image.as_str(),
                    image_id = %plan.image_id,
                    "{s}"
                );
                Err(Error::Untrusted(s))
            }
            None => Ok(()),
        }
    }

    /// TrustShow: the policy as it is read now, open to every caller.
    pub fn trust_show(&self) -> TrustReport {
        report(&self.trust)
    }

    /// TrustAdd, TrustRemove, TrustDefault: authorized as `org.atomic.trust`, then written.
    pub async fn trust_edit(&self, caller: &Caller, edit: Edit) -> Result<TrustReport> {
        let path = self.trust.settings().policy.display().to_string();
        let change = edit.describe();
        let details = [("policy", path.as_str()), ("change", change.as_str())];
        self.authority.check(caller, Action::Trust, &details).await?;
        self.trust.edit(&edit).await?;
        Ok(report(&self.trust))
    }
}

/// The Untrusted sentence: the image, why the plan needs a trusted one, and the verdict's reason.
fn untrusted(plan: &Plan, verdict: &crate::trust::Verdict, require: crate::trust::Require) -> String {
    let why = match plan.privileges.is_empty() {
        true => "[trust] require = \"all\" asks every image to be trusted".to_owned(),
        false => format!(
            "what it runs reaches the host ({}), and [trust] require = \"{}\" asks such images to be trusted",
            plan.privileges.join("; "),
            require.as_str()
        ),
    };
    format!(
        "{} of image {:?} ({}) is refused: {why}; {}",
        plan.operation.as_str(),
        plan.image.as_str(),
        verdict.digest.as_deref().unwrap_or(&plan.image_id),
        verdict.reason
    )
}

/// The policy as TrustShow answers it: each scope with its requirement types and keys.
fn report(trust: &crate::trust::Verifier) -> TrustReport {
    let settings = trust.settings();
    let mut report = TrustReport {
        path: settings.policy.display().to_string(),
        require: settings.require.as_str().to_owned(),
        ..TrustReport::default()
    };
    match trust.current() {
        Ok(None) => {}
        Err(e) => {
            report.present = true;
            report.error = Some(e);
        }
        Ok(Some(loaded)) => {
            let policy = loaded.policy();
            report.present = true;
            report.default = scope("", "default", &policy.default);
            for (transport, scopes) in &policy.transports {
                for (name, requirements) in scopes {
                    let mut entry = scope(transport, name, requirements);
                    if transport == "docker" {
                        (entry.lookaside, entry.attachments) = loaded.signatures_at(name);
                    }
                    report.scopes.push(entry);
                }
            }
            report.text = policy.to_text();
        }
    }
    report
}

fn scope(transport: &str, name: &str, requirements: &[crate::trust::Requirement]) -> TrustScope {
    TrustScope {
        transport: transport.to_owned(),
        scope: name.to_owned(),
        types: requirements.iter().map(|r| r.kind().to_owned()).collect(),
        keys: requirements.iter().flat_map(crate::trust::Requirement::keys).collect(),
        ..TrustScope::default()
    }
}
