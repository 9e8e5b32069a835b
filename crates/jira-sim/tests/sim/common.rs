//! Shared helpers: a spawned simulator and a client.

use jira_sim::{Sim, SimConfig, SimHandle, demo};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

pub struct Api {
    pub handle: SimHandle,
    pub client: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

impl Api {
    pub async fn new() -> Api {
        Api::with(SimConfig::default()).await
    }

    pub async fn with(config: SimConfig) -> Api {
        Api {
            handle: Sim::spawn(config).await.unwrap(),
            client: client(),
        }
    }

    pub fn sim(&self) -> &Sim {
        &self.handle.sim
    }

    /// `{base}{path}` (site form).
    pub fn site(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// `{gateway}{path}` (OAuth gateway form).
    pub fn gw(&self, path: &str) -> String {
        format!("{}{path}", self.handle.gateway_url())
    }

    /// A GET on the site form as the admin (Basic).
    pub fn get(&self, path: &str) -> RequestBuilder {
        admin(self.client.get(self.site(path)))
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        send(self.get(path)).await
    }

    /// A create on the site form as the admin.
    pub async fn create(&self, body: Value) -> (StatusCode, Value) {
        send(admin(self.client.post(self.site("/rest/api/3/issue"))).json(&body)).await
    }

    /// A create with only these fields' errors, as `errors` (asserting 400).
    pub async fn create_errors(&self, body: Value) -> Value {
        let (status, body) = self.create(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["errorMessages"], json!([]), "{body}");
        body["errors"].clone()
    }
}

pub fn admin(rb: RequestBuilder) -> RequestBuilder {
    rb.basic_auth(demo::ADMIN_EMAIL, Some(demo::ADMIN_TOKEN))
}

pub async fn send(rb: RequestBuilder) -> (StatusCode, Value) {
    let response = rb.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub fn adf(text: &str) -> Value {
    json!({"version": 1, "type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

/// A minimal valid create in DEMO, with extra fields merged in.
pub fn issue(extra: Value) -> Value {
    let mut fields = json!({
        "project": {"key": "DEMO"},
        "issuetype": {"id": demo::TASK},
        "summary": "Printer on fire",
    });
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            f.insert(k.clone(), v.clone());
        }
    }
    json!({"fields": fields})
}
