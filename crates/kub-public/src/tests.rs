//! A public service in-process: `GET /network` on or off (`NETWORK_ROUTE`), and what its
//! OpenAPI document lists.

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use clap::Parser;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::{
    auth_address::{AuthAddressSettings, Caller},
    auth_client::AuthClient,
    network::NetworkSettings,
};

/// A public service with no routes of its own, auth nowhere (port 9), `/network` served or not.
fn service(network_route: bool) -> Router {
    let address = AuthAddressSettings::at("127.0.0.1:9", Caller::UsersApi)
        .resolve()
        .unwrap();
    let metrics = Metrics::new();
    let network = NetworkInfo {
        service: "users-api",
        auth: AuthClient::new("users-api", &address, metrics.clone()),
        pod: Default::default(),
        served: network_route,
    };
    let api = utoipa::openapi::OpenApiBuilder::new().build();
    public_service(
        (Router::new(), api),
        network,
        metrics,
        &CorsSettings::default(),
    )
}

async fn get(router: Router, path: &str) -> (StatusCode, Value) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn documented(doc: &Value) -> Vec<String> {
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn network_is_served_by_default() {
    let (status, body) = get(service(true), "/network").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["service"], "users-api");
    assert_eq!(body["auth"]["reachable"], false);
    let (_, doc) = get(service(true), "/openapi.json").await;
    assert_eq!(documented(&doc), ["/healthz", "/network", "/openapi.json"]);
}

#[tokio::test]
async fn network_route_false_answers_404_and_leaves_it_out_of_the_document() {
    let (status, body) = get(service(false), "/network").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "No route for /network.");
    let (_, doc) = get(service(false), "/openapi.json").await;
    assert_eq!(documented(&doc), ["/healthz", "/openapi.json"]);
}

#[test]
fn network_route_is_true_unless_set_to_false() {
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        network: NetworkSettings,
    }
    let parse = |args: &[&str]| {
        Flags::try_parse_from(std::iter::once("svc").chain(args.iter().copied()))
            .map(|flags| flags.network.network_route)
    };
    assert_eq!(
        parse(&[]).unwrap(),
        NetworkSettings::default().network_route
    );
    assert!(parse(&[]).unwrap());
    assert!(!parse(&["--network-route", "false"]).unwrap());
    assert!(parse(&["--network-route", "true"]).unwrap());
    assert!(parse(&["--network-route", "off"]).is_err());
}
