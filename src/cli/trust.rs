//! `atomic trust` and `atomic verify`: the signature policy as the original atomic's users knew
//! it, through atomicd's TrustShow, TrustAdd, TrustRemove, TrustDefault and Info.

use super::args::TrustCommand;
use super::job::printable;
use super::Failure;
use crate::dbus::proxy::{
    dict_to_json, InfoOptions, ManagerProxy, SignatureBlock, TrustReport, TrustRequirement, TrustScope,
};

/// Runs one `atomic trust` command.
pub(super) async fn dispatch(proxy: &ManagerProxy<'_>, command: TrustCommand) -> Result<u8, Failure> {
    let report = match command {
        TrustCommand::Show(a) if a.json => {
            let json = dict_to_json(&proxy.trust_show_dict().await?);
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
            return Ok(0);
        }
        TrustCommand::Show(_) => proxy.trust_show().await?,
        TrustCommand::Add { scope, kind, pubkeys, sigstore } => {
            let paths: Vec<String> = pubkeys.iter().map(|p| absolute(p)).collect();
            let requirement = TrustRequirement {
                kind: Some(kind),
                key_path: (paths.len() == 1).then(|| paths[0].clone()),
                key_paths: (paths.len() > 1).then_some(paths),
                lookaside: sigstore,
                ..TrustRequirement::default()
            };
            proxy.trust_add(&scope, &requirement).await?
        }
        TrustCommand::Delete { scope } => proxy.trust_remove(&scope).await?,
        TrustCommand::Default { default } => proxy.trust_default(&default).await?,
    };
    print!("{}", show(&report));
    Ok(0)
}

/// `atomic verify IMAGE`: the verdict, and exit 1 when the policy does not trust the image.
pub(super) async fn verify(proxy: &ManagerProxy<'_>, image: &str) -> Result<u8, Failure> {
    let info = proxy.info(image, &InfoOptions::default()).await?;
    let Some(signature) = info.signature else {
        return Err(Failure::new("atomicd said nothing of the image's signature".to_owned(), 1));
    };
    println!("{}: {}", printable(image), printable(&signature.shown));
    if let Some(digest) = &signature.digest {
        println!("  digest: {}", printable(digest));
    }
    if !signature.trusted {
        println!("  {}", printable(&signature.reason));
    }
    Ok(if signature.trusted { 0 } else { 1 })
}

/// The `signature:` line of a display.
pub(super) fn print_signature(signature: Option<&SignatureBlock>) {
    if let Some(s) = signature {
        eprintln!("atomic: signature: {}", printable(&s.shown));
    }
}

/// A key file as atomicd must read it: atomicd's working directory is not the caller's.
fn absolute(path: &std::path::Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned()).display().to_string()
}

fn show(r: &TrustReport) -> String {
    let mut out = format!("policy: {}\nrequire: {}\n", printable(&r.path), printable(&r.require));
    if !r.present {
        out.push_str("no policy file: nothing is verified and nothing refused\n");
        return out;
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("unusable, so nothing that needs trust runs: {}\n", printable(e)));
        return out;
    }
    let line = |scope: &str, s: &TrustScope| {
        let keys = if s.keys.is_empty() { String::new() } else { format!("  {}", s.keys.join(", ")) };
        let mut at: Vec<String> = s.lookaside.iter().map(|l| format!("signatures at {l}")).collect();
        if s.attachments {
            at.push("cosign signatures from the registry".to_owned());
        }
        let at = if at.is_empty() { String::new() } else { format!("  ({})", at.join("; ")) };
        format!(
            "  {:<40} {}{}{}\n",
            printable(scope),
            printable(&s.types.join(" + ")),
            printable(&keys),
            printable(&at)
        )
    };
    out.push_str(&line("default", &r.default));
    for s in &r.scopes {
        let scope =
            if s.transport == "docker" { s.scope.clone() } else { format!("{}:{}", s.transport, s.scope) };
        let scope = if scope.is_empty() { "docker (any registry)".to_owned() } else { scope };
        out.push_str(&line(&scope, s));
    }
    out
}
