//! The Helm chart's renderings, checked like the stages.

mod support;

use manifest_check::*;
use support::*;

/// With `MANIFEST_CHECK_HELM_RENDERED=<folder of helm template outputs>` (scripts/k8s-validate.sh
/// sets it), the chart's renderings that name the documented Secrets are wired as the stages are
/// (helm-gateway-traefik: the chart's Gateway objects beside stage 7's implementation).
#[test]
fn helm_renderings_are_wired() {
    let Ok(folder) = std::env::var("MANIFEST_CHECK_HELM_RENDERED") else {
        eprintln!("skipped: MANIFEST_CHECK_HELM_RENDERED is not set (k8s-validate.sh sets it)");
        return;
    };
    let repo = repo();
    for name in [
        "helm-defaults",
        "helm-postgres",
        "helm-production",
        "helm-gateway-traefik",
    ] {
        let file = std::path::Path::new(&folder).join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let objects = parse_yaml(name, &text).unwrap();
        assert!(objects.len() >= 12, "{name}: {} objects", objects.len());
        let findings = check(&objects, &repo);
        assert!(
            findings.is_empty(),
            "{name} is miswired:\n  {}",
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
}
