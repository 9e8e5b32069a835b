//! The site the simulator serves: users, projects, issue types, priorities,
//! custom fields and create screens. Plain data, so tests can build any
//! site they need; [`Site::demo`](crate::Site::demo) builds the default one.

use std::collections::BTreeMap;

/// A Jira site's configuration and directory (Cloud or Data Center: the
/// same data serves both).
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// Every account of the site (active, inactive, apps, customers).
    pub users: Vec<User>,
    pub projects: Vec<Project>,
    /// Site-wide priorities, in Jira's order (highest first).
    pub priorities: Vec<Priority>,
    /// Site-wide issue types; projects pick theirs by id.
    pub issue_types: Vec<IssueType>,
    /// Custom field definitions; screens put them on projects.
    pub custom_fields: Vec<CustomField>,
}

/// `accountType` of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountType {
    /// A person with an Atlassian account.
    Atlassian,
    /// A bot or integration (e.g. "Automation for Jira"); never assignable.
    App,
    /// A Jira Service Management customer; never assignable.
    Customer,
}

impl AccountType {
    /// The value of `accountType` in Jira's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Atlassian => "atlassian",
            AccountType::App => "app",
            AccountType::Customer => "customer",
        }
    }
}

/// One account of the site's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub account_id: String,
    pub account_type: AccountType,
    pub display_name: String,
    /// `None` for accounts that have no email (apps).
    pub email: Option<String>,
    /// `false` when the user's profile visibility hides the email: Jira
    /// then omits `emailAddress`, but user search still matches it.
    pub email_visible: bool,
    pub active: bool,
    /// `timeZone` (omitted when `None`, as Jira does for private values).
    pub time_zone: Option<String>,
    /// Data Center: the username (`name`), unique case-insensitively; what
    /// user fields, user search and JQL take there.
    pub name: String,
    /// Data Center: the user key (`key`), stable across renames; for
    /// users created since Jira 8 `JIRAUSER` and a number.
    pub key: String,
}

/// The default username of a user: the email's local part, lowercased
/// (`alice@example.com` → `alice`), else the display name lowercased with
/// dots for spaces (`Automation for Jira` → `automation.for.jira`).
fn default_username(email: Option<&str>, display_name: &str) -> String {
    match email
        .and_then(|e| e.split('@').next())
        .filter(|l| !l.is_empty())
    {
        Some(local) => local.to_lowercase(),
        None => display_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(".")
            .to_lowercase(),
    }
}

impl User {
    /// An active person whose email is visible.
    pub fn new(
        account_id: impl Into<String>,
        display_name: impl Into<String>,
        email: impl Into<String>,
    ) -> User {
        let display_name = display_name.into();
        let email = email.into();
        let name = default_username(Some(&email), &display_name);
        User {
            account_id: account_id.into(),
            account_type: AccountType::Atlassian,
            display_name,
            email: Some(email),
            email_visible: true,
            active: true,
            time_zone: None,
            key: name.clone(),
            name,
        }
    }

    /// An app account (no email).
    pub fn app(account_id: impl Into<String>, display_name: impl Into<String>) -> User {
        let display_name = display_name.into();
        let name = default_username(None, &display_name);
        User {
            account_id: account_id.into(),
            account_type: AccountType::App,
            display_name,
            email: None,
            email_visible: false,
            active: true,
            time_zone: None,
            key: name.clone(),
            name,
        }
    }

    /// The same user with this Data Center username and user key (the
    /// defaults: the email's local part for both, as for users created
    /// before Jira 8, whose key is their first username).
    pub fn with_username(mut self, name: impl Into<String>, key: impl Into<String>) -> User {
        self.name = name.into();
        self.key = key.into();
        self
    }

    /// The same user with the email hidden by profile visibility.
    pub fn with_hidden_email(mut self) -> User {
        self.email_visible = false;
        self
    }

    /// The same user, deactivated.
    pub fn inactive(mut self) -> User {
        self.active = false;
        self
    }

    /// The same user with another account type.
    pub fn with_account_type(mut self, account_type: AccountType) -> User {
        self.account_type = account_type;
        self
    }

    /// Jira assigns issues to active people only, never to apps or
    /// customers.
    pub fn can_be_assigned(&self) -> bool {
        self.active && self.account_type == AccountType::Atlassian
    }
}

/// An issue type (site-wide; projects list the ones they use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueType {
    pub id: String,
    pub name: String,
    pub description: String,
    pub subtask: bool,
    /// 1 for epics, 0 for standard types, -1 for sub-tasks: decides which
    /// issues may be a `parent`.
    pub hierarchy_level: i32,
}

impl IssueType {
    /// A standard (level 0) issue type.
    pub fn standard(id: &str, name: &str, description: &str) -> IssueType {
        IssueType {
            id: id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            subtask: false,
            hierarchy_level: 0,
        }
    }
}

/// A project component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub description: String,
}

impl Component {
    pub fn new(id: &str, name: &str) -> Component {
        Component {
            id: id.to_owned(),
            name: name.to_owned(),
            description: String::new(),
        }
    }
}

/// A priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priority {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status_color: String,
    /// The priority a new issue gets when the request sets none.
    pub is_default: bool,
}

/// How a custom field's value is written and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomFieldKind {
    /// Single select: `{"id"}` or `{"value"}` of one of the options.
    Select,
    /// Multi select: an array of `{"id"}` / `{"value"}`.
    MultiSelect,
    /// Single-line text: a string of at most 255 characters.
    TextField,
    /// Multi-line text: an ADF document (Cloud), a wiki markup string
    /// (Data Center).
    TextArea,
    /// A JSON number.
    Number,
    /// Single user picker: `{"accountId"}` (Cloud) or `{"name"}` (Data
    /// Center) of an active user. Stored as `{"accountId": id}` on Cloud,
    /// `{"name": username}` on Data Center.
    User,
}

impl CustomFieldKind {
    /// The `schema.custom` URI Jira reports for the field.
    pub fn custom_uri(self) -> &'static str {
        match self {
            CustomFieldKind::Select => "com.atlassian.jira.plugin.system.customfieldtypes:select",
            CustomFieldKind::MultiSelect => {
                "com.atlassian.jira.plugin.system.customfieldtypes:multiselect"
            }
            CustomFieldKind::TextField => {
                "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
            }
            CustomFieldKind::TextArea => {
                "com.atlassian.jira.plugin.system.customfieldtypes:textarea"
            }
            CustomFieldKind::Number => "com.atlassian.jira.plugin.system.customfieldtypes:float",
            CustomFieldKind::User => "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
        }
    }
}

/// An option of a select custom field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldOption {
    pub id: String,
    pub value: String,
}

impl FieldOption {
    pub fn new(id: &str, value: &str) -> FieldOption {
        FieldOption {
            id: id.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// A custom field definition (`customfield_NNNNN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomField {
    /// `customfield_` followed by digits.
    pub id: String,
    pub name: String,
    pub kind: CustomFieldKind,
    /// Allowed values of select fields (empty for the others).
    pub options: Vec<FieldOption>,
}

impl CustomField {
    /// The numeric part of the id (`schema.customId`).
    pub fn custom_id(&self) -> Option<u64> {
        self.id.strip_prefix("customfield_")?.parse().ok()
    }
}

/// The create screen of a project and issue type: which fields a create
/// may set and which it must set. Jira rejects any other field with
/// "Field '{id}' cannot be set. It is not on the appropriate screen, or
/// unknown."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateScreen {
    /// Field ids on the screen, in display order (also the order of
    /// create metadata).
    pub fields: Vec<String>,
    /// Fields that must have a value beyond the always-required summary,
    /// issue type and project (e.g. a required custom field).
    pub required: Vec<String>,
}

/// The system fields of a default create screen, in Jira's order.
const STANDARD_FIELDS: [&str; 10] = [
    "summary",
    "issuetype",
    "project",
    "reporter",
    "description",
    "priority",
    "components",
    "assignee",
    "labels",
    "duedate",
];

impl CreateScreen {
    /// The default screen without `parent` (used for epics).
    pub fn standard() -> CreateScreen {
        CreateScreen {
            fields: STANDARD_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
            required: Vec::new(),
        }
    }

    /// The default screen of an issue type: the standard fields, plus
    /// `parent` for types that can have one (standard types under an epic,
    /// sub-tasks under a standard issue).
    pub fn default_for(issue_type: &IssueType) -> CreateScreen {
        let screen = CreateScreen::standard();
        if issue_type.subtask {
            // Jira's create metadata marks a sub-task's parent required.
            screen.with_required("parent")
        } else if issue_type.hierarchy_level <= 0 {
            screen.with_field("parent")
        } else {
            screen
        }
    }

    /// Adds a field (no-op if present).
    pub fn with_field(mut self, field: &str) -> CreateScreen {
        if !self.has(field) {
            self.fields.push(field.to_owned());
        }
        self
    }

    /// Adds a field and makes it required.
    pub fn with_required(mut self, field: &str) -> CreateScreen {
        self = self.with_field(field);
        if !self.required.iter().any(|f| f == field) {
            self.required.push(field.to_owned());
        }
        self
    }

    /// Removes a field (e.g. `"reporter"` for a screen without reporter).
    pub fn without(mut self, field: &str) -> CreateScreen {
        self.fields.retain(|f| f != field);
        self.required.retain(|f| f != field);
        self
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }

    pub fn is_required(&self, field: &str) -> bool {
        matches!(field, "summary" | "issuetype" | "project")
            || (field == "reporter" && self.has("reporter"))
            || self.required.iter().any(|f| f == field)
    }
}

/// A project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    pub description: String,
    pub lead_account_id: Option<String>,
    /// Ids of the site issue types this project uses, in display order.
    pub issue_type_ids: Vec<String>,
    pub components: Vec<Component>,
    /// The project's priority scheme: the priority ids it allows. Empty
    /// means every site priority.
    pub priority_ids: Vec<String>,
    /// Create screens by issue type id; a type without an entry uses
    /// [`CreateScreen::default_for`].
    pub screens: BTreeMap<String, CreateScreen>,
}

impl Project {
    /// The create screen of one of the project's issue types.
    pub fn screen_for(&self, issue_type: &IssueType) -> CreateScreen {
        self.screens
            .get(&issue_type.id)
            .cloned()
            .unwrap_or_else(|| CreateScreen::default_for(issue_type))
    }

    /// Whether the project's priority scheme allows the priority.
    pub fn allows_priority(&self, priority_id: &str) -> bool {
        self.priority_ids.is_empty() || self.priority_ids.iter().any(|p| p == priority_id)
    }
}
