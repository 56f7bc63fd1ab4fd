use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    traces: TraceSettings,
}

fn parse(args: &[&str]) -> Result<TraceSettings, clap::Error> {
    Flags::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|f| f.traces)
}

#[test]
fn off_unless_an_endpoint_is_set() {
    assert_eq!(parse(&[]).unwrap().traces_endpoint(), None);
}

#[test]
fn the_base_endpoint_gets_the_traces_path_and_the_traces_endpoint_is_used_as_is() {
    let base = parse(&["--otel-exporter-otlp-endpoint", "http://jaeger:4318/"]).unwrap();
    assert_eq!(
        base.traces_endpoint().as_deref(),
        Some("http://jaeger:4318/v1/traces")
    );
    let both = parse(&[
        "--otel-exporter-otlp-endpoint",
        "http://jaeger:4318",
        "--otel-exporter-otlp-traces-endpoint",
        "http://collector:4318/custom",
    ])
    .unwrap();
    assert_eq!(
        both.traces_endpoint().as_deref(),
        Some("http://collector:4318/custom")
    );
}

#[test]
fn sdk_disabled_wins_over_an_endpoint_in_any_case() {
    for value in ["true", "TRUE", "True"] {
        let settings = parse(&[
            "--otel-exporter-otlp-endpoint",
            "http://jaeger:4318",
            "--otel-sdk-disabled",
            value,
        ])
        .unwrap();
        assert_eq!(settings.traces_endpoint(), None, "{value}");
    }
    assert!(parse(&["--otel-sdk-disabled", "yes"]).is_err());
}

#[test]
fn the_specifications_names_are_accepted_and_others_refused() {
    let json = parse(&["--otel-exporter-otlp-protocol", "http/json"]).unwrap();
    assert_eq!(json.otel_exporter_otlp_protocol, OtlpProtocol::HttpJson);
    assert_eq!(
        parse(&[]).unwrap().otel_exporter_otlp_protocol,
        OtlpProtocol::HttpProtobuf
    );
    let error = parse(&["--otel-exporter-otlp-protocol", "grpc"]).unwrap_err();
    assert!(error.to_string().contains("http/protobuf"), "{error}");

    let ratio = parse(&[
        "--otel-traces-sampler",
        "parentbased_traceidratio",
        "--otel-traces-sampler-arg",
        "0.01",
    ])
    .unwrap();
    assert_eq!(
        ratio.otel_traces_sampler,
        SamplerName::ParentBasedTraceIdRatio
    );
    assert_eq!(ratio.otel_traces_sampler_arg, 0.01);
    assert!(parse(&["--otel-traces-sampler-arg", "1.5"]).is_err());
    assert!(parse(&["--otel-traces-sampler", "sometimes"]).is_err());
}

#[test]
fn only_plain_http_urls_are_endpoints() {
    for bad in [
        "https://jaeger:4318",
        "jaeger:4318",
        "http://",
        "http://a\nb",
    ] {
        assert!(
            parse(&["--otel-exporter-otlp-endpoint", bad]).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn the_resource_names_the_service_and_the_pod() {
    let pod = PodIdentity {
        pod_name: Some("tasks-7f9c".into()),
        pod_namespace: Some("default".into()),
        node_name: Some("minikube".into()),
        pod_ip: None,
    };
    let resource = resource("tasks-api", &TraceSettings::default(), &pod);
    let value = |key: &'static str| {
        resource
            .get(&opentelemetry::Key::new(key))
            .map(|v| v.to_string())
    };
    assert_eq!(value("service.name").as_deref(), Some("tasks-api"));
    assert_eq!(value("k8s.pod.name").as_deref(), Some("tasks-7f9c"));
    assert_eq!(value("k8s.namespace.name").as_deref(), Some("default"));
    assert_eq!(value("k8s.node.name").as_deref(), Some("minikube"));
}

#[test]
fn a_callers_tracestate_is_read_only_up_to_its_cap() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert("tracestate", HeaderValue::from_static("vendor=value"));
    assert_eq!(Inbound(&headers).get("tracestate"), Some("vendor=value"));
    let long = format!("vendor={}", "v".repeat(MAX_TRACESTATE_BYTES));
    headers.insert("tracestate", HeaderValue::from_str(&long).unwrap());
    assert_eq!(Inbound(&headers).get("tracestate"), None);
    assert!(Inbound(&headers).get("traceparent").is_some());
}

#[test]
fn the_default_is_what_no_flags_give() {
    let (parsed, default) = (parse(&[]).unwrap(), TraceSettings::default());
    assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
}
