//! `POST /rest/api/3/issue`: the happy path, what is stored and returned,
//! and each validation error with Jira's body.

use jira_sim::{CreateScreen, demo};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Api, adf, issue, send};

#[tokio::test]
async fn happy_path_stores_and_returns_every_field() {
    let api = Api::new().await;
    let description = adf("It is really on fire.");
    let body = json!({
        "fields": {
            "project": {"id": demo::DEMO_PROJECT_ID},
            "issuetype": {"name": "Bug"},
            "summary": "Printer on fire",
            "priority": {"id": "2"},
            "components": [{"id": "10100"}, {"name": "API"}],
            "description": description,
            "assignee": {"id": demo::ALICE_ACCOUNT_ID},
            "reporter": {"accountId": demo::BOB_ACCOUNT_ID},
            "labels": ["fire", "printer", "fire"],
            "duedate": "2030-02-28",
        },
        "properties": [{"key": "jira-action", "value": {"requestId": "r-1"}}],
    });
    let (status, created) = api.create(body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["key"], "DEMO-1");
    assert_eq!(created["id"], "10000");
    assert_eq!(
        created["self"],
        api.site("/rest/api/3/issue/10000").as_str()
    );

    let stored = api.sim().issue("DEMO-1").unwrap();
    assert_eq!(stored.summary, "Printer on fire");
    assert_eq!(stored.issue_type_id, demo::BUG);
    assert_eq!(stored.priority_id.as_deref(), Some("2"));
    assert_eq!(stored.component_ids, vec!["10100", "10102"]);
    assert_eq!(stored.description.as_ref(), Some(&description));
    assert_eq!(stored.assignee.as_deref(), Some(demo::ALICE_ACCOUNT_ID));
    assert_eq!(stored.reporter.as_deref(), Some(demo::BOB_ACCOUNT_ID));
    assert_eq!(stored.creator, demo::ADMIN_ACCOUNT_ID);
    assert_eq!(stored.labels, vec!["fire", "printer"]);
    assert_eq!(stored.duedate.as_deref(), Some("2030-02-28"));
    assert_eq!(
        stored.properties["jira-action"],
        json!({"requestId": "r-1"})
    );
    let received: serde_json::Value = serde_json::from_slice(&stored.request).unwrap();
    assert_eq!(received, body);
    assert_eq!(api.sim().issues().len(), 1);
    assert_eq!(
        api.sim().issue("10000").map(|i| i.key),
        Some("DEMO-1".into())
    );

    let (status, got) = api.get_json("/rest/api/3/issue/DEMO-1").await;
    assert_eq!(status, StatusCode::OK);
    let f = &got["fields"];
    assert_eq!(got["key"], "DEMO-1");
    assert_eq!(f["summary"], "Printer on fire");
    assert_eq!(f["project"]["key"], "DEMO");
    assert_eq!(f["issuetype"]["name"], "Bug");
    assert_eq!(f["priority"]["name"], "High");
    assert_eq!(f["components"][1]["name"], "API");
    assert_eq!(f["description"], description);
    assert_eq!(f["assignee"]["accountId"], demo::ALICE_ACCOUNT_ID);
    assert_eq!(f["assignee"]["emailAddress"], demo::ALICE_EMAIL);
    assert_eq!(f["reporter"]["accountId"], demo::BOB_ACCOUNT_ID);
    assert!(
        f["reporter"].get("emailAddress").is_none(),
        "Bob's email is hidden"
    );
    assert_eq!(f["creator"]["accountId"], demo::ADMIN_ACCOUNT_ID);
    assert_eq!(f["labels"], json!(["fire", "printer"]));
    assert_eq!(f["duedate"], "2030-02-28");
    assert!(f["created"].as_str().unwrap().ends_with("+0000"));

    let (_, subset) = api
        .get_json("/rest/api/3/issue/10000?fields=summary,labels&properties=jira-action")
        .await;
    let mut names: Vec<&String> = subset["fields"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, vec!["labels", "summary"]);
    assert_eq!(subset["properties"]["jira-action"]["requestId"], "r-1");

    let (status, prop) = api
        .get_json("/rest/api/3/issue/DEMO-1/properties/jira-action")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        prop,
        json!({"key": "jira-action", "value": {"requestId": "r-1"}})
    );
    let (status, missing) = api
        .get_json("/rest/api/3/issue/DEMO-1/properties/nope")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        missing["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("nope")
    );
}

#[tokio::test]
async fn defaults_keys_and_gateway_self() {
    let api = Api::new().await;
    let (_, first) = api.create(issue(json!({}))).await;
    let (_, second) = api.create(issue(json!({}))).await;
    let (_, ops) = api.create(issue(json!({"project": {"key": "OPS"}}))).await;
    assert_eq!(first["key"], "DEMO-1");
    assert_eq!(second["key"], "DEMO-2");
    assert_eq!(ops["key"], "OPS-1");
    let stored = api.sim().issue("DEMO-1").unwrap();
    // Jira's defaults: the caller reports, the default priority, no assignee.
    assert_eq!(stored.reporter.as_deref(), Some(demo::ADMIN_ACCOUNT_ID));
    assert_eq!(stored.priority_id.as_deref(), Some("3"));
    assert_eq!(stored.assignee, None);

    let (status, created) = send(
        api.client
            .post(api.gw("/rest/api/3/issue"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN)
            .json(&issue(json!({}))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["key"], "DEMO-3");
    assert_eq!(
        created["self"],
        api.gw(&format!(
            "/rest/api/3/issue/{}",
            created["id"].as_str().unwrap()
        ))
        .as_str()
    );
    let (_, got) = send(
        api.client
            .get(api.gw("/rest/api/3/issue/DEMO-3"))
            .bearer_auth(demo::ADMIN_OAUTH_TOKEN),
    )
    .await;
    assert!(got["self"].as_str().unwrap().contains("/ex/jira/"));

    let (status, missing) = api.get_json("/rest/api/3/issue/DEMO-99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing["errorMessages"][0],
        "Issue does not exist or you do not have permission to see it."
    );
}

#[tokio::test]
async fn summary_errors() {
    let api = Api::new().await;
    let required = json!({"summary": "You must specify a summary of the issue."});
    let mut body = issue(json!({}));
    body["fields"].as_object_mut().unwrap().remove("summary");
    assert_eq!(api.create_errors(body).await, required);
    assert_eq!(
        api.create_errors(issue(json!({"summary": "  "}))).await,
        required
    );
    assert_eq!(
        api.create_errors(issue(json!({"summary": "x".repeat(256)})))
            .await,
        json!({"summary": "Summary must be less than 255 characters."})
    );
    let (status, _) = api.create(issue(json!({"summary": "é".repeat(255)}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        api.create_errors(issue(json!({"summary": "two\nlines"})))
            .await,
        json!({"summary": "The summary is invalid because it contains newline characters."})
    );
}

#[tokio::test]
async fn project_and_issue_type_errors() {
    let api = Api::new().await;
    assert_eq!(
        api.create_errors(json!({"fields": {"summary": "x"}})).await,
        json!({
            "project": "Specify a valid project ID or key",
            "issuetype": "Specify an issue type",
        })
    );
    assert_eq!(
        api.create_errors(issue(json!({"project": {"key": "NOPE"}})))
            .await,
        json!({"project": "Specify a valid project ID or key"})
    );
    assert_eq!(
        api.create_errors(issue(
            json!({"project": {"id": 10001}, "issuetype": {"id": "99"}})
        ))
        .await,
        json!({"issuetype": "The issue type selected is invalid."})
    );
    let mut body = issue(json!({}));
    body["fields"].as_object_mut().unwrap().remove("issuetype");
    assert_eq!(
        api.create_errors(body).await,
        json!({"issuetype": "Specify an issue type"})
    );
    let (status, _) = api
        .create(issue(json!({"issuetype": {"name": "story"}})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn priority_and_component_errors() {
    let api = Api::new().await;
    let invalid = json!({"priority": "The priority selected is invalid."});
    assert_eq!(
        api.create_errors(issue(json!({"priority": {"id": "99"}})))
            .await,
        invalid
    );
    assert_eq!(
        api.create_errors(issue(json!({"priority": {"name": "Urgent"}})))
            .await,
        invalid
    );
    assert_eq!(
        api.create_errors(issue(json!({"priority": {"id": 3}})))
            .await,
        json!({"priority": "Specify the Priority (id or name) in the string format"})
    );
    // OPS's priority scheme has no Lowest.
    assert_eq!(
        api.create_errors(issue(
            json!({"project": {"key": "OPS"}, "priority": {"id": "5"}})
        ))
        .await,
        invalid
    );
    let (status, _) = api
        .create(issue(json!({"priority": {"name": "Lowest"}})))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    assert_eq!(
        api.create_errors(issue(json!({"components": [{"id": "10200"}]})))
            .await,
        json!({"components": "Component with id '10200' does not exist."})
    );
    assert_eq!(
        api.create_errors(issue(json!({"components": [{"name": "Infra"}]})))
            .await,
        json!({"components": "Component name 'Infra' is not valid"})
    );
    assert_eq!(
        api.create_errors(issue(json!({"components": {"id": "10100"}})))
            .await,
        json!({"components": "data was not an array"})
    );
}

#[tokio::test]
async fn user_field_errors() {
    let api = Api::new().await;
    assert_eq!(
        api.create_errors(issue(
            json!({"assignee": {"id": "000000000000000000000000"}})
        ))
        .await,
        json!({"assignee": "Account ID 000000000000000000000000 does not exist."})
    );
    for id in [
        demo::CAROL_ACCOUNT_ID,
        demo::AUTOMATION_ACCOUNT_ID,
        demo::CUSTOMER_ACCOUNT_ID,
    ] {
        assert_eq!(
            api.create_errors(issue(json!({"assignee": {"id": id}})))
                .await,
            json!({"assignee": format!("User '{id}' cannot be assigned issues.")})
        );
    }
    assert_eq!(
        api.create_errors(issue(json!({"reporter": {"id": demo::CAROL_ACCOUNT_ID}})))
            .await,
        json!({"reporter": "The reporter specified is not an active user."})
    );
    // GDPR strict mode: a reporter by name or email is no reporter at all.
    for reporter in [
        json!(null),
        json!({"name": "alice"}),
        json!({"emailAddress": demo::ALICE_EMAIL}),
    ] {
        assert_eq!(
            api.create_errors(issue(json!({"reporter": reporter})))
                .await,
            json!({"reporter": "Reporter is required."})
        );
    }
    // Apps may report.
    let (status, _) = api
        .create(issue(json!({"reporter": {"id": demo::AUTOMATION_ACCOUNT_ID}, "assignee": {"accountId": demo::BOB_ACCOUNT_ID}})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn description_labels_duedate_errors() {
    let api = Api::new().await;
    let adf_error = json!({"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"});
    assert_eq!(
        api.create_errors(issue(json!({"description": "plain text"})))
            .await,
        adf_error
    );
    let empty_text = json!({"version": 1, "type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": ""}]}
    ]});
    assert_eq!(
        api.create_errors(issue(json!({"description": empty_text})))
            .await,
        adf_error
    );
    assert_eq!(
        api.create_errors(issue(json!({"labels": ["two words"]})))
            .await,
        json!({"labels": "The label 'two words' contains spaces which is invalid."})
    );
    assert_eq!(
        api.create_errors(issue(json!({"duedate": "2030-02-30"})))
            .await,
        json!({"duedate": "Error parsing date string: 2030-02-30"})
    );
    assert_eq!(
        api.create_errors(issue(json!({"duedate": "30/01/2030"})))
            .await,
        json!({"duedate": "Error parsing date string: 30/01/2030"})
    );
}

#[tokio::test]
async fn parent_and_subtasks() {
    let api = Api::new().await;
    let subtask = json!({"issuetype": {"id": demo::SUBTASK}});
    assert_eq!(
        api.create_errors(issue(subtask.clone())).await,
        json!({"parent": "Issue type is a sub-task but parent issue key or id not specified."})
    );
    assert_eq!(
        api.create_errors(issue(
            json!({"issuetype": {"id": demo::SUBTASK}, "parent": {"key": "DEMO-42"}})
        ))
        .await,
        json!({"parent": "Could not find issue by id or key."})
    );
    let (_, task) = api.create(issue(json!({}))).await;
    let (status, sub) = api
        .create(issue(
            json!({"issuetype": {"id": demo::SUBTASK}, "parent": {"key": task["key"]}}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let stored = api.sim().issue(sub["key"].as_str().unwrap()).unwrap();
    assert_eq!(stored.parent_key.as_deref(), task["key"].as_str());
    let (_, got) = api
        .get_json(&format!(
            "/rest/api/3/issue/{}",
            sub["key"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["fields"]["parent"]["key"], task["key"]);

    let hierarchy =
        json!({"parent": "Given parent issue does not belong to appropriate hierarchy."});
    // A sub-task under a sub-task, a task under a task.
    assert_eq!(
        api.create_errors(issue(
            json!({"issuetype": {"id": demo::SUBTASK}, "parent": {"key": sub["key"]}})
        ))
        .await,
        hierarchy
    );
    assert_eq!(
        api.create_errors(issue(json!({"parent": {"id": task["id"]}})))
            .await,
        hierarchy
    );
    // A task under an epic is fine; an epic cannot have a parent field.
    let (_, epic) = api
        .create(issue(json!({"issuetype": {"id": demo::EPIC}})))
        .await;
    let (status, _) = api
        .create(issue(json!({"parent": {"key": epic["key"]}})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        api.create_errors(issue(
            json!({"issuetype": {"id": demo::EPIC}, "parent": {"key": epic["key"]}})
        ))
        .await,
        json!({"parent": "Field 'parent' cannot be set. It is not on the appropriate screen, or unknown."})
    );
}

#[tokio::test]
async fn screen_custom_fields_and_unknown_keys() {
    let api = Api::new().await;
    let (status, body) = api
        .create(issue(json!({
            "environment": "prod",
            "customfield_99999": "x",
            "summary": "",
        })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"errorMessages": [], "errors": {
            "environment": "Field 'environment' cannot be set. It is not on the appropriate screen, or unknown.",
            "customfield_99999": "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
            "summary": "You must specify a summary of the issue.",
        }})
    );

    let (status, body) = api
        .create(json!({"fields": issue(json!({}))["fields"], "fieldz": {}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errorMessages"][0]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized field \"fieldz\"")
    );

    // OPS Bug requires Severity.
    let ops_bug = json!({"project": {"key": "OPS"}, "issuetype": {"id": demo::BUG}});
    assert_eq!(
        api.create_errors(issue(ops_bug.clone())).await,
        json!({demo::SEVERITY_FIELD: "Severity is required."})
    );
    let mut bad = ops_bug.clone();
    bad[demo::SEVERITY_FIELD] = json!({"value": "Sev 9"});
    assert_eq!(
        api.create_errors(issue(bad)).await,
        json!({demo::SEVERITY_FIELD: "Option value 'Sev 9' is not valid"})
    );
    let mut good = ops_bug.clone();
    good[demo::SEVERITY_FIELD] = json!({"value": "Sev 2"});
    let (status, created) = api.create(issue(good)).await;
    assert_eq!(status, StatusCode::CREATED);
    let stored = api.sim().issue(created["key"].as_str().unwrap()).unwrap();
    assert_eq!(
        stored.custom_fields[demo::SEVERITY_FIELD],
        json!({"id": "10301", "value": "Sev 2"})
    );
    let (_, got) = api
        .get_json(&format!(
            "/rest/api/3/issue/{}",
            created["key"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["fields"][demo::SEVERITY_FIELD]["value"], "Sev 2");

    // The severity field is not on DEMO's screens.
    let mut elsewhere = json!({});
    elsewhere[demo::SEVERITY_FIELD] = json!({"id": "10300"});
    assert!(
        api.create_errors(issue(elsewhere)).await[demo::SEVERITY_FIELD]
            .as_str()
            .unwrap()
            .contains("cannot be set")
    );

    // `update` with `set` works like `fields`.
    let mut body = issue(json!({}));
    body["update"] = json!({"labels": [{"add": "a"}, {"add": "b"}]});
    let (status, created) = api.create(body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        api.sim()
            .issue(created["key"].as_str().unwrap())
            .unwrap()
            .labels,
        vec!["a", "b"]
    );

    // The description is stored whether it came in `fields` beside an
    // `update`, or as an `update` of its own.
    let doc = |text: &str| {
        json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
        ]})
    };
    let mut beside = issue(json!({"description": doc("beside")}));
    beside["update"] = json!({"labels": [{"add": "a"}]});
    let mut by_update = issue(json!({}));
    by_update["update"] = json!({"description": [{"set": doc("by update")}]});
    for (body, text) in [(beside, "beside"), (by_update, "by update")] {
        let (status, created) = api.create(body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let stored = api.sim().issue(created["key"].as_str().unwrap()).unwrap();
        assert_eq!(stored.description, Some(doc(text)));
    }
}

#[tokio::test]
async fn reporter_off_screen_and_without_modify_reporter() {
    let api = Api::new().await;
    let not_on_screen = json!({"reporter": "Field 'reporter' cannot be set. It is not on the appropriate screen, or unknown."});
    // Alice's credentials lack MODIFY_REPORTER.
    let alice = |body: Value| {
        send(
            api.client
                .post(api.site("/rest/api/3/issue"))
                .basic_auth(demo::ALICE_EMAIL, Some(demo::ALICE_TOKEN))
                .json(&body),
        )
    };
    let (status, body) = alice(issue(json!({"reporter": {"id": demo::BOB_ACCOUNT_ID}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"], not_on_screen);
    let (status, created) = alice(issue(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let stored = api.sim().issue(created["key"].as_str().unwrap()).unwrap();
    assert_eq!(stored.reporter.as_deref(), Some(demo::ALICE_ACCOUNT_ID));

    // A screen without reporter rejects it even for the admin.
    assert!(api.sim().set_screen(
        "DEMO",
        demo::TASK,
        CreateScreen::standard().without("reporter")
    ));
    assert_eq!(
        api.create_errors(issue(json!({"reporter": {"id": demo::BOB_ACCOUNT_ID}})))
            .await,
        not_on_screen
    );
    assert!(
        !api.sim()
            .set_screen("NOPE", demo::TASK, CreateScreen::standard())
    );

    // Required custom field via set_screen.
    api.sim().set_screen(
        "DEMO",
        demo::TASK,
        CreateScreen::standard()
            .with_required("components")
            .with_required("duedate"),
    );
    assert_eq!(
        api.create_errors(issue(json!({}))).await,
        json!({"components": "Components is required.", "duedate": "Due date is required."})
    );
}

#[tokio::test]
async fn permission_body_and_media_type_errors() {
    let api = Api::new().await;
    // Bob may browse but not create.
    let (status, body) = send(
        api.client
            .post(api.site("/rest/api/3/issue"))
            .basic_auth(demo::BOB_EMAIL, Some(demo::BOB_TOKEN))
            .json(&issue(json!({}))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"errorMessages": ["You do not have permission to create issues in this project."], "errors": {}})
    );

    let (status, body) = send(
        crate::common::admin(api.client.post(api.site("/rest/api/3/issue")))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errorMessages"][0].is_string());

    let (status, _) = send(
        crate::common::admin(api.client.post(api.site("/rest/api/3/issue")))
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(api.sim().issues().is_empty());
}

#[tokio::test]
async fn browse_links_open_a_page_of_the_issue() {
    let api = Api::new().await;
    let (_, created) = api.create(issue(json!({}))).await;
    let key = created["key"].as_str().expect("key");
    let page = reqwest::get(format!("{}/browse/{key}", api.handle.base_url()))
        .await
        .expect("answers");
    assert_eq!(page.status(), 200);
    let text = page.text().await.expect("text");
    assert!(text.starts_with(&format!("{key}: ")), "{text}");
    let missing = reqwest::get(format!("{}/browse/NOPE-1", api.handle.base_url()))
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
}
