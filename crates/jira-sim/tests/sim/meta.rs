//! Create metadata, projects, components, priorities, mypermissions.

use jira_sim::demo;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Api, send};

fn field<'a>(fields: &'a Value, id: &str) -> Option<&'a Value> {
    fields.as_array()?.iter().find(|f| f["fieldId"] == id)
}

#[tokio::test]
async fn createmeta_issue_types_paginate() {
    let api = Api::new().await;
    let (status, page) = api
        .get_json("/rest/api/3/issue/createmeta/DEMO/issuetypes")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 5);
    assert_eq!(page["startAt"], 0);
    assert_eq!(page["maxResults"], 50);
    let names: Vec<&str> = page["issueTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Task", "Bug", "Story", "Epic", "Sub-task"]);
    assert_eq!(page["issueTypes"][4]["subtask"], true);

    let (_, page) = api
        .get_json("/rest/api/3/issue/createmeta/10001/issuetypes?startAt=2&maxResults=2")
        .await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["issueTypes"].as_array().unwrap().len(), 2);
    assert_eq!(page["issueTypes"][0]["id"], demo::STORY);

    let (status, body) = api
        .get_json("/rest/api/3/issue/createmeta/DEMO/issuetypes?maxResults=201")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errorMessages"][0],
        "Parameter 'maxResults' must not exceed the limit '200'"
    );
    let (status, _) = api
        .get_json("/rest/api/3/issue/createmeta/NOPE/issuetypes")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn createmeta_fields_with_required_custom_field() {
    let api = Api::new().await;
    let path = format!("/rest/api/3/issue/createmeta/OPS/issuetypes/{}", demo::BUG);
    let (status, page) = api.get_json(&path).await;
    assert_eq!(status, StatusCode::OK);
    let fields = &page["fields"];
    assert_eq!(page["total"], fields.as_array().unwrap().len());

    let severity = field(fields, demo::SEVERITY_FIELD).unwrap();
    assert_eq!(severity["required"], true);
    assert_eq!(severity["name"], "Severity");
    assert_eq!(severity["key"], demo::SEVERITY_FIELD);
    assert_eq!(severity["schema"]["type"], "option");
    assert_eq!(severity["schema"]["customId"], 10050);
    assert_eq!(severity["allowedValues"].as_array().unwrap().len(), 3);
    assert_eq!(severity["allowedValues"][1]["value"], "Sev 2");

    let summary = field(fields, "summary").unwrap();
    assert_eq!(summary["required"], true);
    assert_eq!(summary["schema"]["system"], "summary");
    assert_eq!(summary["operations"][0], "set");
    let priority = field(fields, "priority").unwrap();
    assert_eq!(priority["required"], false);
    assert_eq!(priority["hasDefaultValue"], true);
    assert_eq!(
        priority["allowedValues"].as_array().unwrap().len(),
        4,
        "OPS has no Lowest"
    );
    assert_eq!(priority["defaultValue"]["id"], "3");
    let components = field(fields, "components").unwrap();
    assert_eq!(components["schema"]["items"], "component");
    assert_eq!(components["allowedValues"][0]["name"], "Infra");
    assert_eq!(
        field(fields, "issuetype").unwrap()["allowedValues"][0]["id"],
        demo::BUG
    );
    assert_eq!(field(fields, "reporter").unwrap()["required"], true);
    assert!(field(fields, "assignee").unwrap()["autoCompleteUrl"].is_string());
    assert!(field(fields, "parent").is_some());

    // Paged.
    let (_, first) = api.get_json(&format!("{path}?maxResults=3")).await;
    let (_, rest) = api
        .get_json(&format!("{path}?startAt=3&maxResults=50"))
        .await;
    assert_eq!(first["fields"].as_array().unwrap().len(), 3);
    assert_eq!(
        first["fields"].as_array().unwrap().len() + rest["fields"].as_array().unwrap().len(),
        page["total"].as_u64().unwrap() as usize
    );

    // Epics have no parent; Alice (no MODIFY_REPORTER) has no reporter.
    let (_, epic) = api
        .get_json(&format!(
            "/rest/api/3/issue/createmeta/DEMO/issuetypes/{}",
            demo::EPIC
        ))
        .await;
    assert!(field(&epic["fields"], "parent").is_none());
    let (_, alice) = send(
        api.client
            .get(api.site(&format!(
                "/rest/api/3/issue/createmeta/DEMO/issuetypes/{}",
                demo::TASK
            )))
            .basic_auth(demo::ALICE_EMAIL, Some(demo::ALICE_TOKEN)),
    )
    .await;
    assert!(field(&alice["fields"], "reporter").is_none());
    assert!(field(&alice["fields"], "assignee").is_some());

    let (status, _) = api
        .get_json("/rest/api/3/issue/createmeta/DEMO/issuetypes/99999")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn projects_components_priorities() {
    let api = Api::new().await;
    let (status, project) = api.get_json("/rest/api/3/project/DEMO").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(project["id"], demo::DEMO_PROJECT_ID);
    assert_eq!(project["name"], "Demo");
    assert_eq!(project["issueTypes"].as_array().unwrap().len(), 5);
    assert_eq!(project["components"][0]["name"], "Backend");
    assert_eq!(project["lead"]["accountId"], demo::ADMIN_ACCOUNT_ID);
    let (_, by_id) = api.get_json("/rest/api/3/project/10001").await;
    assert_eq!(by_id["key"], "OPS");
    let (status, body) = api.get_json("/rest/api/3/project/NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["errorMessages"][0],
        "No project could be found with key 'NOPE'."
    );

    let (_, components) = api.get_json("/rest/api/3/project/OPS/components").await;
    let names: Vec<&str> = components
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Infra", "On-call"]);
    assert_eq!(components[0]["id"], "10200");

    let (_, priorities) = api.get_json("/rest/api/3/priority").await;
    assert_eq!(priorities.as_array().unwrap().len(), 5);
    assert_eq!(priorities[0]["name"], "Highest");
    assert_eq!(priorities[4]["id"], "5");
    let (_, page) = api
        .get_json("/rest/api/3/priority/search?maxResults=2&startAt=1")
        .await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["isLast"], false);
    assert_eq!(page["values"][0]["name"], "High");
    let (_, ops) = api
        .get_json("/rest/api/3/priority/search?projectId=10001")
        .await;
    assert_eq!(ops["total"], 4);
    let (_, default) = api
        .get_json("/rest/api/3/priority/search?onlyDefault=true")
        .await;
    assert_eq!(default["values"][0]["isDefault"], true);

    let (_, projects) = api
        .get_json("/rest/api/3/project/search?maxResults=1")
        .await;
    assert_eq!(projects["total"], 2);
    assert_eq!(projects["isLast"], false);
    assert_eq!(projects["values"][0]["key"], "DEMO");
    assert!(projects["nextPage"].is_string());
    let (_, found) = api.get_json("/rest/api/3/project/search?query=oper").await;
    assert_eq!(found["values"][0]["key"], "OPS");
}

#[tokio::test]
async fn my_permissions() {
    let api = Api::new().await;
    let path = "/rest/api/3/mypermissions?permissions=CREATE_ISSUES,MODIFY_REPORTER,ASSIGN_ISSUES,BROWSE_PROJECTS,USER_PICKER&projectKey=DEMO";
    let (status, body) = api.get_json(path).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "CREATE_ISSUES",
        "MODIFY_REPORTER",
        "ASSIGN_ISSUES",
        "BROWSE_PROJECTS",
        "USER_PICKER",
    ] {
        assert_eq!(body["permissions"][key]["havePermission"], true, "{key}");
        assert_eq!(body["permissions"][key]["key"], key);
    }
    assert_eq!(body["permissions"]["CREATE_ISSUES"]["id"], "11");
    assert_eq!(body["permissions"]["CREATE_ISSUES"]["type"], "PROJECT");

    let (_, alice) = send(
        api.client
            .get(api.site(path))
            .basic_auth(demo::ALICE_EMAIL, Some(demo::ALICE_TOKEN)),
    )
    .await;
    assert_eq!(
        alice["permissions"]["MODIFY_REPORTER"]["havePermission"],
        false
    );
    assert_eq!(
        alice["permissions"]["CREATE_ISSUES"]["havePermission"],
        true
    );

    let (status, _) = api
        .get_json("/rest/api/3/mypermissions?permissions=NOT_A_PERMISSION")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.get_json("/rest/api/3/mypermissions").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .get_json("/rest/api/3/mypermissions?permissions=CREATE_ISSUES&projectKey=NOPE")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
