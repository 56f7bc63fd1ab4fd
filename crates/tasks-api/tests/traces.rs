//! One request, one trace: `GET /tasks` with a caller's `traceparent` yields tasks-api's server
//! span under the caller's span, the client span of its call to auth under that, and auth's
//! server span under the client span, all in the caller's trace. The spans are the SDK's own
//! (its in-memory exporter), made by the real routers over a real loopback connection to auth.
//!
//! Its own test binary: turning traces on is process-wide.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use kub_http::{
    settings::PodIdentity,
    telemetry,
    traces::{TraceSettings, Traces},
};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tasks_api::{AppState, Config, router};
use test_support::{
    auth::spawn_auth,
    oneshot::{request, send},
};
use tracing_subscriber::layer::SubscriberExt;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_request_and_its_call_to_auth_are_one_trace_under_the_callers_span() {
    let exporter = InMemorySpanExporter::default();
    let traces = Traces::with_exporter(
        "tasks-api",
        &TraceSettings::default(),
        &PodIdentity::default(),
        exporter.clone(),
    );
    let logs = Logs::default();
    let subscriber = tracing_subscriber::registry()
        .with(telemetry::span_layer(traces.tracer().expect("on")))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(logs.clone()),
        );
    // This test's runtime has one thread, so auth's server and tasks' router both run here.
    let _subscriber = tracing::subscriber::set_default(subscriber);

    let (auth_server, auth) = spawn_auth().await;
    let data = tempfile::tempdir().unwrap();
    let config = Config::wired(&auth_server.addr.to_string(), data.path().join("tasks"));
    let tasks = router(AppState::open(&config).await.unwrap());
    let token = auth.tokens.issue("ada").unwrap();
    let mut get = request(Method::GET, "/tasks", None, Some(&token));
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    get.headers_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    assert_eq!(send(&tasks, get).await.status, StatusCode::OK);

    traces.flush();
    let spans = exporter.get_finished_spans().unwrap();
    let trace = TraceId::from_hex(CALLER_TRACE).unwrap();
    let server = find(&spans, SpanKind::Server, "GET /tasks");
    let client = find(&spans, SpanKind::Client, "POST /verify-token");
    let auth_span = find(&spans, SpanKind::Server, "POST /verify-token");
    for span in [server, client, auth_span] {
        assert_eq!(span.span_context.trace_id(), trace, "{}", span.name);
        assert!(span.span_context.is_sampled(), "{}", span.name);
    }
    assert_eq!(
        server.parent_span_id,
        SpanId::from_hex(CALLER_SPAN).unwrap()
    );
    assert!(server.parent_span_is_remote);
    // Through the client's own `verify_token` span, in-process.
    let client_parent = find_id(&spans, client.parent_span_id);
    assert_eq!(client_parent.span_kind, SpanKind::Internal);
    assert_eq!(client_parent.parent_span_id, server.span_context.span_id());
    assert_eq!(auth_span.parent_span_id, client.span_context.span_id());
    assert!(
        auth_span.parent_span_is_remote,
        "auth read it from traceparent"
    );

    assert_eq!(attribute(server, "http.response.status_code"), "200");
    assert_eq!(attribute(server, "http.route"), "/tasks");
    assert_eq!(
        attribute(client, "auth.found_by"),
        "AUTH_ADDRESS (an IP address)"
    );
    assert_eq!(
        attribute(client, "network.peer.address"),
        auth_server.addr.ip().to_string(),
    );
    assert_eq!(attribute(auth_span, "http.response.status_code"), "200");

    // Each service's answer line carries its request id and the trace id.
    let lines = logs.lines();
    let answered: Vec<_> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "finished processing request")
        .collect();
    assert_eq!(answered.len(), 2, "{lines:?}");
    for line in answered {
        assert_eq!(line["span"]["trace_id"], CALLER_TRACE, "{line}");
        assert!(line["span"]["request_id"].is_string(), "{line}");
    }
}

/// The JSON log lines, as the services would print them.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

fn find<'a>(spans: &'a [SpanData], kind: SpanKind, name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|span| span.span_kind == kind && span.name == name)
        .unwrap_or_else(|| {
            let seen: Vec<_> = spans.iter().map(|s| (&s.name, &s.span_kind)).collect();
            panic!("no {kind:?} span {name:?} among {seen:?}")
        })
}

fn find_id(spans: &[SpanData], id: SpanId) -> &SpanData {
    spans
        .iter()
        .find(|span| span.span_context.span_id() == id)
        .unwrap_or_else(|| panic!("no span {id}"))
}

fn attribute(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|attribute| attribute.key.as_str() == key)
        .map(|attribute| attribute.value.to_string())
        .unwrap_or_else(|| panic!("{} has no {key}", span.name))
}
