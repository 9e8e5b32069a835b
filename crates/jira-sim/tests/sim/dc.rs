//! Data Center mode: REST v2 under a context path, PAT and Basic
//! password authentication, usernames, wiki markup, Data Center's create
//! metadata, search and project list.

use std::time::Duration;

use jira_sim::{
    CreateScreen, CustomField, CustomFieldKind, Endpoint, Fault, FaultKind, Flavor, SimConfig, demo,
};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::common::{Api, adf, send};

/// A Data Center simulator under `/jira`.
async fn dc() -> Api {
    Api::with(SimConfig {
        flavor: Flavor::DataCenter,
        context_path: Some("/jira".into()),
        ..SimConfig::default()
    })
    .await
}

fn pat(rb: RequestBuilder) -> RequestBuilder {
    rb.bearer_auth(demo::ADMIN_PAT)
}

/// `{base}/rest/api/2{path}` (the base includes `/jira`).
fn v2(api: &Api, path: &str) -> String {
    api.site(&format!("/rest/api/2{path}"))
}

async fn get(api: &Api, path: &str) -> (StatusCode, Value) {
    send(pat(api.client.get(v2(api, path)))).await
}

async fn create(api: &Api, body: Value) -> (StatusCode, Value) {
    send(pat(api.client.post(v2(api, "/issue"))).json(&body)).await
}

/// The `errors` of a create refused with 400 and no `errorMessages`.
async fn create_errors(api: &Api, body: Value) -> Value {
    let (status, body) = create(api, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorMessages"], json!([]), "{body}");
    body["errors"].clone()
}

/// A minimal valid Data Center create in DEMO, with extra fields.
fn issue(extra: Value) -> Value {
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

#[tokio::test]
async fn server_info_in_both_flavors_needs_no_credentials() {
    let cloud = Api::new().await;
    for path in ["/rest/api/3/serverInfo", "/rest/api/2/serverInfo"] {
        let (status, body) = send(cloud.client.get(cloud.site(path))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["deploymentType"], "Cloud");
        assert_eq!(body["version"], "1001.0.0-SNAPSHOT");
        assert_eq!(body["baseUrl"], cloud.handle.base_url().as_str());
    }
    assert_eq!(cloud.sim().calls(Endpoint::ServerInfo), 2);
    // Cloud's other v2 paths stay off, as before.
    let (status, _) = cloud.get_json("/rest/api/2/myself").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let api = dc().await;
    assert!(api.handle.base_url().ends_with("/jira"));
    let (status, body) = send(api.client.get(v2(&api, "/serverInfo"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], "9.12.4");
    assert_eq!(body["versionNumbers"], json!([9, 12, 4]));
    assert_eq!(body["deploymentType"], "Server");
    assert_eq!(body["serverTitle"], "Jira");
    assert!(body["buildNumber"].is_u64());
    assert_eq!(body["baseUrl"], api.handle.base_url().as_str());
    assert_eq!(api.sim().calls(Endpoint::ServerInfo), 1);
}

#[tokio::test]
async fn only_v2_under_the_context_path_is_served() {
    let api = dc().await;
    let (status, _) = get(&api, "/myself").await;
    assert_eq!(status, StatusCode::OK);
    for url in [
        api.site("/rest/api/3/myself"),
        api.site("/rest/api/3/serverInfo"),
        format!(
            "{}/ex/jira/{}/rest/api/2/myself",
            api.handle.base_url(),
            demo::CLOUD_ID
        ),
        api.site("/oauth/token/accessible-resources"),
        // Outside the context path.
        format!("http://{}/rest/api/2/myself", api.handle.addr),
        format!("http://{}/jiraX/rest/api/2/myself", api.handle.addr),
    ] {
        let (status, body) = send(pat(api.client.get(&url))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {body}");
    }
    // Removed in 9.0: the all-in-one createmeta.
    let (status, body) = get(&api, "/issue/createmeta?projectKeys=DEMO").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Cloud's paged project search does not exist on Data Center.
    let (status, _) = get(&api, "/project/search").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&api, "/search/jql?jql=project%3DDEMO").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn personal_access_tokens_and_passwords_authenticate() {
    let api = dc().await;
    let myself = v2(&api, "/myself");
    let (status, me) = send(pat(api.client.get(&myself))).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["name"], demo::ADMIN_USERNAME);
    assert_eq!(me["key"], demo::ADMIN_KEY);
    assert_eq!(me["emailAddress"], demo::ADMIN_EMAIL);
    assert!(me.get("accountId").is_none(), "{me}");
    assert_eq!(
        me["self"],
        format!("{}/rest/api/2/user?username=admin", api.handle.base_url()).as_str()
    );

    let (status, me) = send(
        api.client
            .get(&myself)
            .basic_auth("ADMIN", Some(demo::ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "admin");
    let (status, me) = send(api.client.get(&myself).bearer_auth(demo::ALICE_PAT)).await;
    assert_eq!(
        (status, me["name"].clone()),
        (StatusCode::OK, json!("alice"))
    );

    for rb in [
        api.client.get(&myself).bearer_auth("not-a-token"),
        // A PAT is no password.
        api.client
            .get(&myself)
            .basic_auth(demo::ADMIN_USERNAME, Some(demo::ADMIN_PAT)),
        api.client
            .get(&myself)
            .basic_auth(demo::ADMIN_USERNAME, Some("wrong")),
        // Cloud's API tokens and OAuth tokens are not Data Center's.
        api.client
            .get(&myself)
            .basic_auth(demo::ADMIN_EMAIL, Some(demo::ADMIN_TOKEN)),
        api.client.get(&myself).bearer_auth(demo::ADMIN_OAUTH_TOKEN),
        api.client.get(&myself),
    ] {
        let (status, body) = send(rb).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let message = body["errorMessages"][0].as_str().unwrap_or_default();
        assert!(message.starts_with("You are not authenticated"), "{body}");
    }
}

#[tokio::test]
async fn user_search_by_username_email_and_name_skips_the_inactive() {
    let api = dc().await;
    let (status, users) = get(&api, "/user/search?username=ali").await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let alice = &users[0];
    assert_eq!(alice["name"], "alice");
    assert_eq!(alice["key"], demo::ALICE_KEY);
    assert_eq!(alice["emailAddress"], demo::ALICE_EMAIL);
    assert_eq!(alice["displayName"], "Alice Anders");
    assert_eq!(alice["active"], true);
    assert!(
        alice["self"]
            .as_str()
            .unwrap()
            .contains("/jira/rest/api/2/user?username=alice")
    );
    assert!(alice.get("accountId").is_none());

    let (_, by_email) = get(&api, "/user/search?username=ALICE%40example.com").await;
    assert_eq!(by_email.as_array().map(Vec::len), Some(1), "{by_email}");
    assert_eq!(by_email[0]["name"], "alice");
    let (_, by_name) = get(&api, "/user/search?username=anders").await;
    assert_eq!(by_name[0]["name"], "alice", "{by_name}");
    let (_, sams) = get(&api, "/user/search?username=sam").await;
    let names: Vec<&str> = sams
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert!(
        names.contains(&"sam") && names.contains(&"sam.sutherland"),
        "{sams}"
    );

    let (_, carol) = get(&api, "/user/search?username=carol").await;
    assert_eq!(carol, json!([]));
    let (_, carol) = get(&api, "/user/search?username=carol&includeInactive=true").await;
    assert_eq!(carol[0]["name"], demo::CAROL_USERNAME, "{carol}");
    assert_eq!(carol[0]["active"], false);

    let (_, capped) = get(&api, "/user/search?username=a&maxResults=3").await;
    assert_eq!(capped.as_array().map(Vec::len), Some(3));
    let (status, _) = get(&api, "/user/search?query=alice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.sim().user_by_name("ALICE").map(|u| u.account_id),
        Some(demo::ALICE_ACCOUNT_ID.to_owned())
    );
}

#[tokio::test]
async fn create_sets_users_by_name_and_keeps_the_wiki_markup() {
    let api = dc().await;
    let wiki = "h1. Fire\n*bold* _it_ {{code}} [link|https://example.com]\n* item\n** nested  \n";
    let (status, created) = create(
        &api,
        issue(json!({
            "description": wiki,
            "reporter": {"name": "Alice"},
            "assignee": {"name": "bob"},
            "priority": {"name": "High"},
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["key"], "DEMO-1");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created["self"],
        format!("{}/rest/api/2/issue/{id}", api.handle.base_url()).as_str()
    );

    let stored = api.sim().issue("DEMO-1").unwrap();
    assert_eq!(stored.description_text(), Some(wiki));
    assert_eq!(stored.reporter_name.as_deref(), Some("alice"));
    assert_eq!(stored.reporter.as_deref(), Some(demo::ALICE_ACCOUNT_ID));
    assert_eq!(stored.assignee_name.as_deref(), Some("bob"));
    assert_eq!(stored.priority_id.as_deref(), Some("2"));

    let (status, got) = get(&api, "/issue/DEMO-1").await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["self"], created["self"]);
    assert_eq!(got["fields"]["description"], wiki);
    assert_eq!(got["fields"]["reporter"]["name"], "alice");
    assert_eq!(got["fields"]["creator"]["name"], "admin");
    assert!(got["fields"]["reporter"].get("accountId").is_none());
    assert!(
        got["fields"]["project"]["self"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/rest/api/2/project/", api.handle.base_url()))
    );

    // Without a reporter, the caller reports.
    let (_, second) = create(&api, issue(json!({}))).await;
    let second = api.sim().issue(second["key"].as_str().unwrap()).unwrap();
    assert_eq!(second.reporter_name.as_deref(), Some("admin"));

    // The browse page lives under the context path too.
    let page = api
        .client
        .get(format!("{}/browse/DEMO-1", api.handle.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("h1. Fire") && text.contains("Alice Anders"),
        "{text}"
    );
    let outside = api
        .client
        .get(format!("http://{}/browse/DEMO-1", api.handle.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn adf_descriptions_and_account_ids_are_refused() {
    let api = dc().await;
    let errors = create_errors(&api, issue(json!({"description": adf("not wiki")}))).await;
    assert_eq!(
        errors,
        json!({"description": "Operation value must be a string"})
    );

    let errors = create_errors(
        &api,
        issue(json!({"reporter": {"accountId": demo::ALICE_ACCOUNT_ID}})),
    )
    .await;
    assert_eq!(
        errors,
        json!({"reporter": "The reporter specified is not a user."})
    );
    let errors = create_errors(&api, issue(json!({"reporter": {"name": "nobody"}}))).await;
    assert_eq!(
        errors,
        json!({"reporter": "The reporter specified is not a user."})
    );
    let errors = create_errors(&api, issue(json!({"reporter": {"name": "carol"}}))).await;
    assert_eq!(
        errors,
        json!({"reporter": "The reporter specified is not an active user."})
    );
    let errors = create_errors(&api, issue(json!({"assignee": {"name": "nobody"}}))).await;
    assert_eq!(errors, json!({"assignee": "User 'nobody' does not exist."}));
    assert!(api.sim().issues().is_empty());
}

#[tokio::test]
async fn every_field_error_comes_in_one_answer() {
    let api = dc().await;
    let errors = create_errors(
        &api,
        json!({"fields": {
            "project": {"key": "OPS"},
            "issuetype": {"id": demo::BUG},
            "summary": "",
            "description": adf("x"),
            "reporter": {"accountId": demo::ALICE_ACCOUNT_ID},
            "priority": {"id": "5"},
            "customfield_99999": "x",
        }}),
    )
    .await;
    assert_eq!(
        errors,
        json!({
            "customfield_99999": "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
            "description": "Operation value must be a string",
            "priority": "The priority selected is invalid.",
            "reporter": "The reporter specified is not a user.",
            "summary": "You must specify a summary of the issue.",
            demo::SEVERITY_FIELD: "Severity is required.",
        })
    );

    // Without Modify reporter, reporter is off Alice's screen.
    let (status, body) = send(
        api.client
            .post(v2(&api, "/issue"))
            .bearer_auth(demo::ALICE_PAT)
            .json(&issue(json!({"reporter": {"name": "bob"}}))),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"]["reporter"],
        "Field 'reporter' cannot be set. It is not on the appropriate screen, or unknown."
    );
}

#[tokio::test]
async fn text_areas_take_wiki_markup() {
    let api = dc().await;
    api.sim().add_custom_field(CustomField {
        id: "customfield_10400".into(),
        name: "Steps".into(),
        kind: CustomFieldKind::TextArea,
        options: Vec::new(),
    });
    let screen = CreateScreen::standard().with_field("customfield_10400");
    assert!(api.sim().set_screen("DEMO", demo::TASK, screen));
    let (status, _) = create(&api, issue(json!({"customfield_10400": "# one\n# two"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        api.sim().issue("DEMO-1").unwrap().custom_fields["customfield_10400"],
        "# one\n# two"
    );
    let errors = create_errors(&api, issue(json!({"customfield_10400": adf("x")}))).await;
    assert_eq!(
        errors["customfield_10400"],
        "Operation value must be a string"
    );
}

#[tokio::test]
async fn create_metadata_comes_in_pages_of_values() {
    let api = dc().await;
    let (status, types) = get(&api, "/issue/createmeta/DEMO/issuetypes").await;
    assert_eq!(status, StatusCode::OK, "{types}");
    assert_eq!(types["total"], 5);
    assert_eq!(types["isLast"], true);
    assert_eq!(types["values"][0]["name"], "Task");
    assert!(types.get("issueTypes").is_none());
    assert!(types["values"][0].get("hierarchyLevel").is_none());

    // A screen of 70 fields: more than the default page of 50.
    let mut screen = CreateScreen::standard();
    for n in 0..60 {
        let id = format!("customfield_{}", 11_000 + n);
        api.sim().add_custom_field(CustomField {
            id: id.clone(),
            name: format!("Field {n}"),
            kind: CustomFieldKind::TextField,
            options: Vec::new(),
        });
        screen = screen.with_field(&id);
    }
    assert!(api.sim().set_screen("DEMO", demo::TASK, screen));
    let path = format!("/issue/createmeta/DEMO/issuetypes/{}", demo::TASK);
    let (status, first) = get(&api, &path).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        (
            &first["startAt"],
            &first["maxResults"],
            &first["total"],
            &first["isLast"]
        ),
        (&json!(0), &json!(50), &json!(70), &json!(false))
    );
    assert_eq!(first["values"].as_array().map(Vec::len), Some(50));
    assert_eq!(first["values"][0]["fieldId"], "summary");
    assert!(first.get("fields").is_none());
    let (_, second) = get(&api, &format!("{path}?startAt=50")).await;
    assert_eq!(second["isLast"], true);
    assert_eq!(second["values"].as_array().map(Vec::len), Some(20));
    assert_eq!(second["values"][19]["fieldId"], "customfield_11059");
    let (_, small) = get(&api, &format!("{path}?startAt=0&maxResults=10")).await;
    assert_eq!(small["values"].as_array().map(Vec::len), Some(10));
    let reporter = first["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fieldId"] == "reporter")
        .cloned()
        .unwrap();
    assert!(
        reporter["autoCompleteUrl"]
            .as_str()
            .unwrap()
            .ends_with("/jira/rest/api/2/user/search?username=")
    );
    assert_eq!(api.sim().calls(Endpoint::CreateMetaFields), 3);
}

#[tokio::test]
async fn issue_properties_round_trip() {
    let api = dc().await;
    let (_, created) = create(&api, issue(json!({}))).await;
    let key = created["key"].as_str().unwrap();
    let url = v2(&api, &format!("/issue/{key}/properties/jira-action"));
    let put = |value: Value| pat(api.client.put(&url)).json(&value).send();
    assert_eq!(
        put(json!({"requestId": "r-1"})).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(json!({"requestId": "r-2"})).await.unwrap().status(),
        StatusCode::OK
    );
    let (status, got) = send(pat(api.client.get(&url))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        got,
        json!({"key": "jira-action", "value": {"requestId": "r-2"}})
    );
    assert_eq!(api.sim().calls(Endpoint::IssueProperty), 3);
    let (status, _) = get(&api, &format!("/issue/{key}/properties/other")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        send(pat(api.client.put(v2(&api, "/issue/DEMO-99/properties/x"))).json(&json!(1))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn search_by_username_without_properties() {
    let api = dc().await;
    let body = |reporter: &str| {
        let mut b = issue(json!({"reporter": {"name": reporter}}));
        b["properties"] = json!([{"key": "jira-action", "value": {"requestId": "r-1"}}]);
        b
    };
    for reporter in ["alice", "bob", "alice"] {
        let (status, created) = create(&api, body(reporter)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let jql = "project = DEMO AND reporter = alice AND created >= \"2020/12/01 10:00\"";
    let (status, found) = send(pat(api.client.get(v2(&api, "/search")).query(&[
        ("jql", jql),
        ("startAt", "0"),
        ("maxResults", "1"),
        ("fields", "summary,reporter"),
        ("properties", "jira-action"),
    ])))
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        (&found["startAt"], &found["maxResults"], &found["total"]),
        (&json!(0), &json!(1), &json!(2))
    );
    let hit = &found["issues"][0];
    assert_eq!(hit["key"], "DEMO-3");
    assert_eq!(hit["fields"]["reporter"]["name"], "alice");
    assert!(hit["fields"].get("description").is_none());
    assert!(hit.get("properties").is_none(), "{hit}");
    assert!(found.get("nextPageToken").is_none());
    let (_, page2) = send(pat(api
        .client
        .get(v2(&api, "/search"))
        .query(&[("jql", jql), ("startAt", "1")])))
    .await;
    assert_eq!(page2["issues"][0]["key"], "DEMO-1");
    // Every navigable field by default.
    assert_eq!(page2["issues"][0]["fields"]["summary"], "Printer on fire");

    let (status, refused) = send(pat(api.client.get(v2(&api, "/search")).query(&[(
        "jql",
        "project = DEMO AND issue.property[jira-action].requestId = \"r-1\"",
    )])))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused["errorMessages"][0],
        "Field 'issue.property[jira-action].requestId' does not exist or you do not have permission to view it."
    );
    let (status, _) = send(pat(api
        .client
        .get(v2(&api, "/search"))
        .query(&[("jql", "reporter = nobody")])))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The index lags the creates in Data Center mode too.
    api.sim().set_search_lag(Duration::from_secs(3600));
    let (_, created) = create(&api, body("alice")).await;
    let (_, lagging) = send(pat(api.client.get(v2(&api, "/search")).query(&[(
        "jql",
        format!("key = {}", created["key"].as_str().unwrap()).as_str(),
    )])))
    .await;
    assert_eq!(lagging["total"], 0, "{lagging}");
    let (status, _) = get(
        &api,
        &format!("/issue/{}", created["key"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn projects_priorities_and_permissions_in_data_center_shapes() {
    let api = dc().await;
    let (status, projects) = get(&api, "/project").await;
    assert_eq!(status, StatusCode::OK, "{projects}");
    let keys: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    assert_eq!(keys, ["DEMO", "OPS"]);
    let (_, bob) = send(
        api.client
            .get(v2(&api, "/project"))
            .bearer_auth(demo::BOB_PAT),
    )
    .await;
    assert_eq!(bob.as_array().map(Vec::len), Some(2));

    let (status, project) = get(&api, "/project/DEMO").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(project["issueTypes"].as_array().map(Vec::len), Some(5));
    assert_eq!(project["components"][0]["name"], "Backend");
    assert_eq!(project["lead"]["name"], "admin");
    assert_eq!(
        project["self"],
        format!("{}/rest/api/2/project/10000", api.handle.base_url()).as_str()
    );
    assert!(project.get("simplified").is_none() && project.get("style").is_none());

    let (_, priorities) = get(&api, "/priority").await;
    assert_eq!(priorities[2]["name"], "Medium");
    assert!(
        priorities[2]["self"]
            .as_str()
            .unwrap()
            .contains("/jira/rest/api/2/priority/3")
    );

    let (status, perms) = get(
        &api,
        "/mypermissions?projectKey=DEMO&permissions=CREATE_ISSUES,MODIFY_REPORTER",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{perms}");
    assert_eq!(
        perms["permissions"]["MODIFY_REPORTER"]["havePermission"],
        true
    );
    let (_, alice) = send(
        api.client
            .get(v2(
                &api,
                "/mypermissions?projectKey=DEMO&permissions=MODIFY_REPORTER",
            ))
            .bearer_auth(demo::ALICE_PAT),
    )
    .await;
    assert_eq!(
        alice["permissions"]["MODIFY_REPORTER"]["havePermission"],
        false
    );
}

#[tokio::test]
async fn faults_rate_limits_and_counters_work_the_same() {
    let api = dc().await;
    api.sim().push_fault(Fault::once(
        Endpoint::CreateIssue,
        FaultKind::rate_limited(3),
    ));
    let response = pat(api.client.post(v2(&api, "/issue")))
        .json(&issue(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("retry-after").as_deref(), Some("3"));
    assert_eq!(header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert!(header("x-ratelimit-limit").is_some() && header("x-ratelimit-fillrate").is_some());
    assert!(api.sim().issues().is_empty());

    api.sim()
        .push_fault(Fault::once(Endpoint::SearchJql, FaultKind::status(503)));
    let (status, _) = get(&api, "/search?jql=project%3DDEMO").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = create(&api, issue(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(api.sim().calls(Endpoint::CreateIssue), 2);
    assert_eq!(api.sim().calls(Endpoint::SearchJql), 1);

    api.sim()
        .set_response_headers(&[("X-RateLimit-Remaining", "7")]);
    let response = pat(api.client.get(v2(&api, "/myself")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
}

#[tokio::test]
async fn no_context_path_serves_at_the_root() {
    let api = Api::with(SimConfig {
        flavor: Flavor::DataCenter,
        ..SimConfig::default()
    })
    .await;
    assert!(!api.handle.base_url().ends_with("/jira"));
    let (status, me) = get(&api, "/myself").await;
    assert_eq!(
        (status, me["name"].clone()),
        (StatusCode::OK, json!("admin"))
    );
}

#[tokio::test]
async fn user_picker_fields_take_usernames() {
    let api = dc().await;
    api.sim().add_custom_field(CustomField {
        id: "customfield_10500".into(),
        name: "Approver".into(),
        kind: CustomFieldKind::User,
        options: Vec::new(),
    });
    let screen = CreateScreen::standard().with_field("customfield_10500");
    assert!(api.sim().set_screen("DEMO", demo::TASK, screen));
    let (status, created) =
        create(&api, issue(json!({"customfield_10500": {"name": "alice"}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let stored = api.sim().issue("DEMO-1").unwrap();
    assert_eq!(
        stored.custom_fields["customfield_10500"],
        json!({"name": "alice"})
    );
    let (_, got) = get(&api, "/issue/DEMO-1").await;
    assert_eq!(got["fields"]["customfield_10500"]["key"], demo::ALICE_KEY);

    let errors = create_errors(
        &api,
        issue(json!({
            "customfield_10500": {"accountId": demo::ALICE_ACCOUNT_ID},
            "assignee": {"name": "carol"},
        })),
    )
    .await;
    assert_eq!(
        errors,
        json!({
            "assignee": "User 'carol' cannot be assigned issues.",
            "customfield_10500": format!("User '{}' was not found in the system.", demo::ALICE_ACCOUNT_ID),
        })
    );
}

#[tokio::test]
async fn avatars_are_served_by_the_server_itself() {
    let api = dc().await;
    let (_, me) = get(&api, "/myself").await;
    let avatar = me["avatarUrls"]["48x48"].as_str().unwrap_or_default();
    assert!(
        avatar.starts_with(&format!("{}/secure/useravatar?", api.handle.base_url())),
        "{avatar}"
    );
}
