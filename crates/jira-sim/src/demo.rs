//! The deterministic demo site and its well-known users, ids and
//! credentials.
//!
//! # Users (always present, before the generated ones)
//!
//! | who | account id | email | notes |
//! |---|---|---|---|
//! | Sandbox Admin | [`ADMIN_ACCOUNT_ID`] | `admin@example.com` | visible email; the admin credentials' user |
//! | Alice Anders | [`ALICE_ACCOUNT_ID`] | `alice@example.com` | visible email |
//! | Bob Brown | [`BOB_ACCOUNT_ID`] | `bob@example.com` | email hidden |
//! | Carol Clark | [`CAROL_ACCOUNT_ID`] | `carol@example.com` | **inactive** |
//! | Automation for Jira | [`AUTOMATION_ACCOUNT_ID`] | none | `accountType: app` |
//! | Sam Smith | [`SAM_ACCOUNT_ID`] | `sam@example.com` | email hidden |
//! | Sam Sutherland | [`SAM_AU_ACCOUNT_ID`] | `sam@example.com.au` | email hidden: the query `sam@example.com` finds both Sams |
//! | Dana Customer | [`CUSTOMER_ACCOUNT_ID`] | `dana@customer.example.org` | `accountType: customer` |
//!
//! # Data Center usernames and keys
//!
//! Every user's username (`name`) is its email's local part (`alice` for
//! `alice@example.com`, `mia.adams` for a generated `mia.adams@example.com`),
//! except where that would collide or there is no email: Sam Sutherland
//! is `sam.sutherland` and Automation for Jira is `automation`. The user
//! key is `JIRAUSER{10000 + n}` for the `n`-th user of the site (0-based,
//! fixed users first: the admin is `JIRAUSER10000`, Alice
//! `JIRAUSER10001`), as Jira 8+ names keys, so a client that confuses key
//! and username is caught.
//!
//! Generated user `i` (0-based) is "{First} {Last}" with email
//! `first.last@example.com` (a number before `@` once the name
//! combinations run out); every 5th (`i % 5 == 4`) hides its email, every
//! 17th (`i % 17 == 16`) is inactive. Their account ids are 24 hex digits.
//!
//! # Credentials ([`credentials`])
//!
//! | header | user | permissions |
//! |---|---|---|
//! | Basic `admin@example.com` : [`ADMIN_TOKEN`] | admin | all |
//! | Bearer [`ADMIN_OAUTH_TOKEN`] | admin | all |
//! | Basic `alice@example.com` : [`ALICE_TOKEN`] | Alice | all but `MODIFY_REPORTER` |
//! | Bearer [`ALICE_OAUTH_TOKEN`] | Alice | all but `MODIFY_REPORTER` |
//! | Basic `bob@example.com` : [`BOB_TOKEN`] | Bob | `BROWSE_PROJECTS` only |
//!
//! Data Center ([`Flavor::DataCenter`](crate::Flavor::DataCenter); the
//! same list holds both kinds, each flavor reads only its own):
//!
//! | header | user | permissions |
//! |---|---|---|
//! | Bearer [`ADMIN_PAT`] (`demo-pat`) | `admin` (the service user) | all |
//! | Basic `admin` : [`ADMIN_PASSWORD`] | `admin` | all |
//! | Bearer [`ALICE_PAT`] | `alice` | all but `MODIFY_REPORTER` |
//! | Basic `alice` : [`ALICE_PASSWORD`] | `alice` | all but `MODIFY_REPORTER` |
//! | Bearer [`BOB_PAT`] | `bob` | `BROWSE_PROJECTS` only |
//!
//! # Projects, issue types, priorities, fields
//!
//! - `DEMO` (id `10000`, "Demo"): components Backend `10100`, Frontend
//!   `10101`, API `10102`; every priority; default screens (Story adds the
//!   optional number field `customfield_10016` "Story point estimate").
//! - `OPS` (id `10001`, "Operations"): components Infra `10200`, On-call
//!   `10201`; priorities `1`–`4` only (no Lowest); its Bug screen requires
//!   the select `customfield_10050` "Severity" (options `10300` "Sev 1",
//!   `10301` "Sev 2", `10302` "Sev 3").
//! - Issue types (both projects): Task `10001`, Bug `10002`, Story
//!   `10003`, Epic `10004` (level 1), Sub-task `10005` (sub-task).
//! - Priorities: `1` Highest, `2` High, `3` Medium (default), `4` Low,
//!   `5` Lowest.

use std::collections::BTreeMap;

use crate::config::{Credential, Permission};
use crate::model::{
    AccountType, Component, CreateScreen, CustomField, CustomFieldKind, FieldOption, IssueType,
    Priority, Project, Site, User,
};

pub const CLOUD_ID: &str = "3f8c2a9e-6b1d-4e57-a0c4-9d2e7b5f1a63";

pub const ADMIN_ACCOUNT_ID: &str = "712020:5c9e1f3a-8b2d-4f6e-a1c7-3d9b0e2f4a81";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_TOKEN: &str = "sandbox-token";
pub const ADMIN_OAUTH_TOKEN: &str = "sandbox-oauth-token";

/// Data Center: the admin's username, personal access token and password.
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PAT: &str = "demo-pat";
pub const ADMIN_PASSWORD: &str = "sandbox-password";
pub const ADMIN_KEY: &str = "JIRAUSER10000";

/// The demo OAuth app registered with the simulated authorization server.
pub const OAUTH_CLIENT_ID: &str = "sandbox-client";
pub const OAUTH_CLIENT_SECRET: &str = "sandbox-client-secret";

pub const ALICE_ACCOUNT_ID: &str = "712020:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
pub const ALICE_EMAIL: &str = "alice@example.com";
pub const ALICE_TOKEN: &str = "alice-token";
pub const ALICE_OAUTH_TOKEN: &str = "alice-oauth-token";
pub const ALICE_USERNAME: &str = "alice";
pub const ALICE_KEY: &str = "JIRAUSER10001";
pub const ALICE_PAT: &str = "alice-pat";
pub const ALICE_PASSWORD: &str = "alice-password";

pub const BOB_ACCOUNT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";
pub const BOB_EMAIL: &str = "bob@example.com";
pub const BOB_TOKEN: &str = "bob-token";
pub const BOB_USERNAME: &str = "bob";
pub const BOB_PAT: &str = "bob-pat";

pub const CAROL_ACCOUNT_ID: &str = "5d53f3cbc6b9320d9ea5bdc2";
pub const CAROL_EMAIL: &str = "carol@example.com";
pub const CAROL_USERNAME: &str = "carol";

/// The real, public account id of Atlassian's "Automation for Jira" app.
pub const AUTOMATION_ACCOUNT_ID: &str = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077";

pub const SAM_ACCOUNT_ID: &str = "63a1f0c2e4b5d6f7a8b9c0d1";
pub const SAM_EMAIL: &str = "sam@example.com";
pub const SAM_AU_ACCOUNT_ID: &str = "63a1f0c2e4b5d6f7a8b9c0d2";
pub const SAM_AU_EMAIL: &str = "sam@example.com.au";
pub const SAM_AU_USERNAME: &str = "sam.sutherland";

pub const CUSTOMER_ACCOUNT_ID: &str =
    "qm:8f2e4c6a-1b3d-4f5e-9a7c-2d4e6f8a0b1c:3c5e7a9b-2d4f-4a6c-8e0b-1d3f5a7c9e2b";
pub const CUSTOMER_EMAIL: &str = "dana@customer.example.org";

/// How many fixed users come before the generated ones.
pub const FIXED_USERS: usize = 8;

pub const DEMO_PROJECT_ID: &str = "10000";
pub const OPS_PROJECT_ID: &str = "10001";
pub const TASK: &str = "10001";
pub const BUG: &str = "10002";
pub const STORY: &str = "10003";
pub const EPIC: &str = "10004";
pub const SUBTASK: &str = "10005";
/// OPS Bug's required select field.
pub const SEVERITY_FIELD: &str = "customfield_10050";
pub const STORY_POINTS_FIELD: &str = "customfield_10016";

const FIRST: [&str; 64] = [
    "Aaron", "Abigail", "Adam", "Adrian", "Aisha", "Amelia", "Andre", "Anna", "Ben", "Bianca",
    "Caleb", "Chloe", "Daniel", "Diego", "Elena", "Elijah", "Emma", "Ethan", "Fatima", "Felix",
    "Grace", "Hana", "Hugo", "Isla", "Ivan", "Jack", "Jade", "James", "Julia", "Kai", "Kenji",
    "Laura", "Leo", "Liam", "Lucia", "Maya", "Mia", "Mohammed", "Nadia", "Noah", "Nora", "Olivia",
    "Omar", "Oscar", "Priya", "Quinn", "Rafael", "Rosa", "Ruby", "Ryan", "Sofia", "Tariq", "Theo",
    "Uma", "Victor", "Wei", "Willow", "Xavier", "Yara", "Yusuf", "Zara", "Zoe", "Lena", "Marco",
];

const LAST: [&str; 64] = [
    "Adams", "Ahmed", "Baker", "Bauer", "Chen", "Costa", "Davies", "Diaz", "Evans", "Fischer",
    "Garcia", "Gupta", "Hall", "Hansen", "Ito", "Jensen", "Johnson", "Kaur", "Kim", "Kowalski",
    "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Muller", "Nakamura", "Nguyen", "Novak", "Okafor",
    "Olsen", "Patel", "Perez", "Quinn", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith",
    "Sato", "Tanaka", "Taylor", "Thomas", "Turner", "Usman", "Vargas", "Walker", "Wang", "Weber",
    "White", "Wilson", "Wong", "Xu", "Yamamoto", "Young", "Zhang", "Ziegler", "Berg", "Dubois",
    "Ferreira", "Horvat", "Ivanova", "Larsen",
];

/// A cheap, well-mixed hash (SplitMix64) for deterministic ids.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fixed_users() -> Vec<User> {
    let mut admin = User::new(ADMIN_ACCOUNT_ID, "Sandbox Admin", ADMIN_EMAIL);
    admin.time_zone = Some("Etc/UTC".to_owned());
    let mut alice = User::new(ALICE_ACCOUNT_ID, "Alice Anders", ALICE_EMAIL);
    alice.time_zone = Some("Europe/London".to_owned());
    let users = vec![
        admin,
        alice,
        User::new(BOB_ACCOUNT_ID, "Bob Brown", BOB_EMAIL).with_hidden_email(),
        User::new(CAROL_ACCOUNT_ID, "Carol Clark", CAROL_EMAIL).inactive(),
        User::app(AUTOMATION_ACCOUNT_ID, "Automation for Jira").with_username("automation", ""),
        User::new(SAM_ACCOUNT_ID, "Sam Smith", SAM_EMAIL).with_hidden_email(),
        User::new(SAM_AU_ACCOUNT_ID, "Sam Sutherland", SAM_AU_EMAIL)
            .with_hidden_email()
            .with_username(SAM_AU_USERNAME, ""),
        User::new(CUSTOMER_ACCOUNT_ID, "Dana Customer", CUSTOMER_EMAIL)
            .with_account_type(AccountType::Customer),
    ];
    users
        .into_iter()
        .enumerate()
        .map(|(n, mut user)| {
            user.key = user_key(n);
            user
        })
        .collect()
}

/// The Data Center key of the site's `n`-th user.
fn user_key(n: usize) -> String {
    format!("JIRAUSER{}", 10_000 + n)
}

/// Generated user `i` (see the module docs).
fn generated_user(i: usize, lower_first: &[String], lower_last: &[String]) -> User {
    let f = i % FIRST.len();
    let l = (i / FIRST.len()) % LAST.len();
    let round = i / (FIRST.len() * LAST.len());
    let email = if round == 0 {
        format!("{}.{}@example.com", lower_first[f], lower_last[l])
    } else {
        format!("{}.{}{round}@example.com", lower_first[f], lower_last[l])
    };
    let name = email.split('@').next().unwrap_or_default().to_owned();
    let id = ((u128::from(mix(i as u64)) << 32) | (i as u128 & 0xFFFF_FFFF)) & ((1u128 << 96) - 1);
    User {
        account_id: format!("{id:024x}"),
        account_type: AccountType::Atlassian,
        display_name: format!("{} {}", FIRST[f], LAST[l]),
        email: Some(email),
        email_visible: i % 5 != 4,
        active: i % 17 != 16,
        time_zone: None,
        name,
        key: user_key(FIXED_USERS + i),
    }
}

fn priorities() -> Vec<Priority> {
    [
        (
            "1",
            "Highest",
            "This problem will block progress.",
            "#d04437",
        ),
        (
            "2",
            "High",
            "Serious problem that could block progress.",
            "#f15c75",
        ),
        (
            "3",
            "Medium",
            "Has the potential to affect progress.",
            "#f79232",
        ),
        (
            "4",
            "Low",
            "Minor problem or easily worked around.",
            "#707070",
        ),
        (
            "5",
            "Lowest",
            "Trivial problem with little or no impact on progress.",
            "#999999",
        ),
    ]
    .into_iter()
    .map(|(id, name, description, color)| Priority {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        status_color: color.to_owned(),
        is_default: id == "3",
    })
    .collect()
}

fn issue_types() -> Vec<IssueType> {
    vec![
        IssueType::standard(TASK, "Task", "A small, distinct piece of work."),
        IssueType::standard(BUG, "Bug", "A problem or error."),
        IssueType::standard(STORY, "Story", "A feature expressed as a user goal."),
        IssueType {
            id: EPIC.to_owned(),
            name: "Epic".to_owned(),
            description: "A collection of related bugs, stories, and tasks.".to_owned(),
            subtask: false,
            hierarchy_level: 1,
        },
        IssueType {
            id: SUBTASK.to_owned(),
            name: "Sub-task".to_owned(),
            description: "A small piece of work that's part of a larger task.".to_owned(),
            subtask: true,
            hierarchy_level: -1,
        },
    ]
}

fn custom_fields() -> Vec<CustomField> {
    vec![
        CustomField {
            id: SEVERITY_FIELD.to_owned(),
            name: "Severity".to_owned(),
            kind: CustomFieldKind::Select,
            options: vec![
                FieldOption::new("10300", "Sev 1"),
                FieldOption::new("10301", "Sev 2"),
                FieldOption::new("10302", "Sev 3"),
            ],
        },
        CustomField {
            id: STORY_POINTS_FIELD.to_owned(),
            name: "Story point estimate".to_owned(),
            kind: CustomFieldKind::Number,
            options: Vec::new(),
        },
    ]
}

fn projects(types: &[IssueType]) -> Vec<Project> {
    let type_ids: Vec<String> = types.iter().map(|t| t.id.clone()).collect();
    let story = types.iter().find(|t| t.id == STORY);
    let bug = types.iter().find(|t| t.id == BUG);
    let mut demo_screens = BTreeMap::new();
    if let Some(story) = story {
        demo_screens.insert(
            STORY.to_owned(),
            CreateScreen::default_for(story).with_field(STORY_POINTS_FIELD),
        );
    }
    let mut ops_screens = BTreeMap::new();
    if let Some(bug) = bug {
        ops_screens.insert(
            BUG.to_owned(),
            CreateScreen::default_for(bug).with_required(SEVERITY_FIELD),
        );
    }
    vec![
        Project {
            id: DEMO_PROJECT_ID.to_owned(),
            key: "DEMO".to_owned(),
            name: "Demo".to_owned(),
            description: "The simulator's demo project.".to_owned(),
            lead_account_id: Some(ADMIN_ACCOUNT_ID.to_owned()),
            issue_type_ids: type_ids.clone(),
            components: vec![
                Component::new("10100", "Backend"),
                Component::new("10101", "Frontend"),
                Component::new("10102", "API"),
            ],
            priority_ids: Vec::new(),
            screens: demo_screens,
        },
        Project {
            id: OPS_PROJECT_ID.to_owned(),
            key: "OPS".to_owned(),
            name: "Operations".to_owned(),
            description: "Operations: incidents and infrastructure work.".to_owned(),
            lead_account_id: Some(ALICE_ACCOUNT_ID.to_owned()),
            issue_type_ids: type_ids,
            components: vec![
                Component::new("10200", "Infra"),
                Component::new("10201", "On-call"),
            ],
            priority_ids: ["1", "2", "3", "4"]
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            screens: ops_screens,
        },
    ]
}

impl Site {
    /// The demo site (see the [`demo`](crate::demo) module docs) with
    /// `users` generated users after the fixed ones. Deterministic: the
    /// same `users` always gives the same site. A million users take well
    /// under a second in release builds.
    pub fn demo(users: usize) -> Site {
        let lower_first: Vec<String> = FIRST.iter().map(|s| s.to_lowercase()).collect();
        let lower_last: Vec<String> = LAST.iter().map(|s| s.to_lowercase()).collect();
        let mut all = Vec::with_capacity(FIXED_USERS + users);
        all.extend(fixed_users());
        all.extend((0..users).map(|i| generated_user(i, &lower_first, &lower_last)));
        let issue_types = issue_types();
        Site {
            users: all,
            projects: projects(&issue_types),
            priorities: priorities(),
            issue_types,
            custom_fields: custom_fields(),
        }
    }
}

/// The demo credentials, Cloud and Data Center (see the module docs).
pub fn credentials() -> Vec<Credential> {
    vec![
        Credential::pat(ADMIN_PAT, ADMIN_USERNAME),
        Credential::password(ADMIN_USERNAME, ADMIN_PASSWORD),
        Credential::pat(ALICE_PAT, ALICE_USERNAME).without(Permission::ModifyReporter),
        Credential::password(ALICE_USERNAME, ALICE_PASSWORD).without(Permission::ModifyReporter),
        Credential::pat(BOB_PAT, BOB_USERNAME).with_permissions(&[Permission::BrowseProjects]),
        Credential::basic(ADMIN_EMAIL, ADMIN_TOKEN, ADMIN_ACCOUNT_ID),
        Credential::bearer(ADMIN_OAUTH_TOKEN, ADMIN_ACCOUNT_ID),
        Credential::basic(ALICE_EMAIL, ALICE_TOKEN, ALICE_ACCOUNT_ID)
            .without(Permission::ModifyReporter),
        Credential::bearer(ALICE_OAUTH_TOKEN, ALICE_ACCOUNT_ID).without(Permission::ModifyReporter),
        Credential::basic(BOB_EMAIL, BOB_TOKEN, BOB_ACCOUNT_ID)
            .with_permissions(&[Permission::BrowseProjects]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_is_deterministic_and_unique() {
        let a = Site::demo(5000);
        let b = Site::demo(5000);
        assert_eq!(a.users, b.users);
        assert_eq!(a.users.len(), FIXED_USERS + 5000);
        let ids: HashSet<&str> = a.users.iter().map(|u| u.account_id.as_str()).collect();
        assert_eq!(ids.len(), a.users.len());
        let emails: HashSet<&str> = a.users.iter().filter_map(|u| u.email.as_deref()).collect();
        assert_eq!(emails.len(), a.users.len() - 1);
        assert!(
            a.users[FIXED_USERS..]
                .iter()
                .all(|u| u.account_id.len() == 24)
        );
        // Data Center: usernames and keys unique, the documented ones.
        let names: HashSet<String> = a.users.iter().map(|u| u.name.to_lowercase()).collect();
        assert_eq!(names.len(), a.users.len());
        let keys: HashSet<&str> = a.users.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys.len(), a.users.len());
        assert_eq!(
            (a.users[1].name.as_str(), a.users[1].key.as_str()),
            (ALICE_USERNAME, ALICE_KEY)
        );
        assert_eq!(a.users[0].key, ADMIN_KEY);
        assert_eq!(a.users[6].name, SAM_AU_USERNAME);
        assert_eq!(a.users[FIXED_USERS].name, "aaron.adams");
    }
}
