//! Every conformance vector of tests/data/seed-providers.json (a verbatim copy of the shared one)
//! through the running binary, in front of a recording app.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{header_pairs, http1_request, send_raw, App, Hookguard, APP_BODY, APP_STATUS};

const VECTORS: &str = include_str!("../data/seed-providers.json");

/// The route a vector asks for, in hookguard's config shape.
fn route_config(vector: &Value) -> Value {
    let route = &vector["route"];
    let secrets: Vec<Value> = route["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| json!({ "value": s }))
        .collect();
    let path = vector["request"]["path"].as_str().expect("path");
    match route["provider"].as_str().expect("provider") {
        "query-token" => json!({
            "path": path,
            "verify": { "query_token": { "param": route["param"] } },
            "secrets": secrets,
        }),
        preset => json!({ "path": path, "provider": preset, "secrets": secrets }),
    }
}

fn body_of(request: &Value) -> Vec<u8> {
    if let Some(text) = request["body"].as_str() {
        return text.as_bytes().to_vec();
    }
    match request["body_base64"].as_str() {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64 body"),
        None => Vec::new(),
    }
}

/// The query the app should see: a query token route removes its parameter, nothing else.
fn expected_query(vector: &Value) -> String {
    let query = vector["request"]["query"].as_str().unwrap_or("");
    match vector["route"]["param"].as_str() {
        Some(param) => query
            .split('&')
            .filter(|pair| pair.split('=').next() != Some(param))
            .collect::<Vec<_>>()
            .join("&"),
        None => query.to_string(),
    }
}

#[tokio::test]
async fn every_seed_vector_gets_its_verdict_through_the_real_proxy() {
    let document: Value = serde_json::from_str(VECTORS).expect("vectors parse");
    let vectors = document["vectors"].as_array().expect("vectors");
    assert!(
        vectors.len() >= 70,
        "the whole file is loaded: {}",
        vectors.len()
    );

    // One proxy per distinct route, so a vector's secrets are exactly the ones its route has.
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for vector in vectors {
        groups
            .entry(route_config(vector).to_string())
            .or_default()
            .push(vector);
    }
    let app = App::start().await;
    let mut checked = 0;
    for (route, group) in groups {
        let config = json!({
            "listen": "127.0.0.1:0",
            "upstream": app.url(),
            "routes": [serde_json::from_str::<Value>(&route).expect("route")],
        });
        let proxy = Hookguard::start(&config.to_string());
        for vector in group {
            let id = vector["id"].as_str().expect("id");
            let request = &vector["request"];
            let method = request["method"].as_str().expect("method");
            let path = request["path"].as_str().expect("path");
            let query = request["query"].as_str().unwrap_or("");
            let target = if query.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{query}")
            };
            let headers = header_pairs(&request["headers"]);
            let body = body_of(request);
            let response =
                send_raw(proxy.addr, &http1_request(method, &target, &headers, &body)).await;
            let received = app.take();
            match vector["expect"]["verdict"].as_str().expect("verdict") {
                "accept" => {
                    assert_eq!(
                        response.status,
                        APP_STATUS,
                        "{id}: {}",
                        response.body_text()
                    );
                    assert_eq!(response.body_text(), APP_BODY, "{id}");
                    assert_eq!(received.len(), 1, "{id}: the app got it once");
                    let got = &received[0];
                    assert_eq!(got.body.as_ref(), body.as_slice(), "{id}: exact bytes");
                    assert_eq!(got.method.as_str(), method, "{id}");
                    let content_length = got
                        .headers
                        .get("content-length")
                        .map(|v| v.to_str().expect("ascii"));
                    if !body.is_empty() || method == "POST" {
                        assert_eq!(
                            content_length,
                            Some(body.len().to_string().as_str()),
                            "{id}"
                        );
                    }
                    let expected_query = expected_query(vector);
                    let expected_target = if expected_query.is_empty() {
                        path.to_string()
                    } else {
                        format!("{path}?{expected_query}")
                    };
                    assert_eq!(got.target, expected_target, "{id}: path and query");
                    assert!(got.headers.contains_key("x-hookguard-route"), "{id}");
                }
                "reject" => {
                    let status = vector["expect"]["status"].as_u64().expect("status");
                    assert_eq!(
                        u64::from(response.status),
                        status,
                        "{id}: {}",
                        response.body_text()
                    );
                    assert!(received.is_empty(), "{id}: the app must get nothing");
                }
                other => panic!("{id}: unknown verdict {other}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, vectors.len());
}
