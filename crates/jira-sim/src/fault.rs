//! Endpoints (for call counting and fault matching) and injectable faults.

use std::time::Duration;

use http::Method;

use crate::config::Flavor;

/// The endpoints the simulator serves, as counted by
/// [`Sim::calls`](crate::Sim::calls) and matched by [`Fault::endpoint`].
/// In Data Center mode the same endpoints under `/rest/api/2/`; where
/// Data Center's path differs, the doc says which it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /rest/api/3/issue`
    CreateIssue,
    /// `GET /rest/api/3/issue/{issueIdOrKey}`
    GetIssue,
    /// `GET /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}`
    /// (Data Center: `GET` and `PUT`)
    IssueProperty,
    /// `GET|POST /rest/api/3/search/jql` (Data Center: `GET
    /// /rest/api/2/search`)
    SearchJql,
    /// `GET /rest/api/3/user/search`
    UserSearch,
    /// `GET /rest/api/3/users/search`
    UsersSearch,
    /// `GET /rest/api/3/myself`
    Myself,
    /// `GET /rest/api/3/mypermissions`
    MyPermissions,
    /// `GET /rest/api/3/project/{projectIdOrKey}`
    Project,
    /// `GET /rest/api/3/project/search` (Data Center: `GET
    /// /rest/api/2/project`, its plain list of projects)
    ProjectSearch,
    /// `GET /rest/api/3/project/{projectIdOrKey}/components`
    ProjectComponents,
    /// `GET /rest/api/3/priority` and `GET /rest/api/3/priority/search`
    Priorities,
    /// `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes`
    CreateMetaIssueTypes,
    /// `GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}`
    CreateMetaFields,
    /// `GET /oauth/token/accessible-resources`
    AccessibleResources,
    /// `POST /oauth/token` (the authorization server)
    OAuthToken,
    /// `GET /authorize` (the consent redirect)
    Authorize,
    /// `GET /rest/api/3/serverInfo` and `GET /rest/api/2/serverInfo`
    /// (no authentication)
    ServerInfo,
    /// Anything else (answered 404, or 405 for a known path with another
    /// method).
    Other,
}

impl Endpoint {
    pub const ALL: [Endpoint; 19] = [
        Endpoint::CreateIssue,
        Endpoint::GetIssue,
        Endpoint::IssueProperty,
        Endpoint::SearchJql,
        Endpoint::UserSearch,
        Endpoint::UsersSearch,
        Endpoint::Myself,
        Endpoint::MyPermissions,
        Endpoint::Project,
        Endpoint::ProjectSearch,
        Endpoint::ProjectComponents,
        Endpoint::Priorities,
        Endpoint::CreateMetaIssueTypes,
        Endpoint::CreateMetaFields,
        Endpoint::AccessibleResources,
        Endpoint::OAuthToken,
        Endpoint::Authorize,
        Endpoint::ServerInfo,
        Endpoint::Other,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Which endpoint a request is for, from its method and its path with
    /// any gateway prefix and context path removed.
    pub(crate) fn classify(method: &Method, path: &str, flavor: Flavor) -> Endpoint {
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        if flavor == Flavor::DataCenter {
            return Endpoint::classify_dc(method, path);
        }
        if path == "/rest/api/3/serverInfo" || path == "/rest/api/2/serverInfo" {
            return if get {
                Endpoint::ServerInfo
            } else {
                Endpoint::Other
            };
        }
        if path == "/oauth/token" {
            return if post {
                Endpoint::OAuthToken
            } else {
                Endpoint::Other
            };
        }
        if path == "/authorize" {
            return if get {
                Endpoint::Authorize
            } else {
                Endpoint::Other
            };
        }
        if path == "/oauth/token/accessible-resources" {
            return if get {
                Endpoint::AccessibleResources
            } else {
                Endpoint::Other
            };
        }
        let Some(rest) = path.strip_prefix("/rest/api/3/") else {
            return Endpoint::Other;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Endpoint::Other;
        }
        match (segments.as_slice(), get, post) {
            (["issue"], _, true) => Endpoint::CreateIssue,
            (["issue", "createmeta", _, "issuetypes"], true, _) => Endpoint::CreateMetaIssueTypes,
            (["issue", "createmeta", _, "issuetypes", _], true, _) => Endpoint::CreateMetaFields,
            (["issue", _], true, _) => Endpoint::GetIssue,
            (["issue", _, "properties", _], true, _) => Endpoint::IssueProperty,
            (["search", "jql"], true, _) | (["search", "jql"], _, true) => Endpoint::SearchJql,
            (["user", "search"], true, _) => Endpoint::UserSearch,
            (["users", "search"], true, _) => Endpoint::UsersSearch,
            (["myself"], true, _) => Endpoint::Myself,
            (["mypermissions"], true, _) => Endpoint::MyPermissions,
            (["project", "search"], true, _) => Endpoint::ProjectSearch,
            (["project", _], true, _) => Endpoint::Project,
            (["project", _, "components"], true, _) => Endpoint::ProjectComponents,
            (["priority"], true, _) | (["priority", "search"], true, _) => Endpoint::Priorities,
            _ => Endpoint::Other,
        }
    }
}

impl Endpoint {
    /// Data Center's v2 routes (only those: the v3 paths, the gateway and
    /// the authorization server do not exist there).
    fn classify_dc(method: &Method, path: &str) -> Endpoint {
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        let put = *method == Method::PUT;
        let Some(rest) = path.strip_prefix("/rest/api/2/") else {
            return Endpoint::Other;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Endpoint::Other;
        }
        match (segments.as_slice(), get, post) {
            (["serverInfo"], true, _) => Endpoint::ServerInfo,
            (["issue"], _, true) => Endpoint::CreateIssue,
            (["issue", "createmeta", _, "issuetypes"], true, _) => Endpoint::CreateMetaIssueTypes,
            (["issue", "createmeta", _, "issuetypes", _], true, _) => Endpoint::CreateMetaFields,
            // `issue/createmeta` itself (removed in 9.0) is an issue key
            // that does not exist, as on Jira 9.
            (["issue", _], true, _) => Endpoint::GetIssue,
            (["issue", _, "properties", _], true, _) => Endpoint::IssueProperty,
            (["issue", _, "properties", _], _, _) if put => Endpoint::IssueProperty,
            (["search"], true, _) => Endpoint::SearchJql,
            (["user", "search"], true, _) => Endpoint::UserSearch,
            (["myself"], true, _) => Endpoint::Myself,
            (["mypermissions"], true, _) => Endpoint::MyPermissions,
            (["project"], true, _) => Endpoint::ProjectSearch,
            // `project/search` does not exist: a project key "search".
            (["project", _], true, _) => Endpoint::Project,
            (["project", _, "components"], true, _) => Endpoint::ProjectComponents,
            (["priority"], true, _) => Endpoint::Priorities,
            _ => Endpoint::Other,
        }
    }
}

/// A fault to inject: the next `times` requests to `endpoint` (any
/// endpoint if `None`) get `kind` instead of (or on top of) the normal
/// answer. Faults are matched in the order they were pushed.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub endpoint: Option<Endpoint>,
    pub kind: FaultKind,
    pub times: u32,
}

impl Fault {
    /// One occurrence of `kind` on `endpoint`.
    pub fn once(endpoint: Endpoint, kind: FaultKind) -> Fault {
        Fault {
            endpoint: Some(endpoint),
            kind,
            times: 1,
        }
    }

    /// One occurrence of `kind` on whatever request comes next.
    pub fn any(kind: FaultKind) -> Fault {
        Fault {
            endpoint: None,
            kind,
            times: 1,
        }
    }

    /// The same fault, `times` times.
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Answer `status` without doing anything. `retry_after` sets the
    /// `Retry-After` header (seconds); `body` replaces the default body
    /// (Jira's error body for the status).
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: Option<serde_json::Value>,
    },
    /// Wait, then handle the request normally. A client that gives up
    /// (closes the connection) during the delay cancels the request: under
    /// the simulator's server a timed-out create is then never applied
    /// (use [`FaultKind::ApplyThenDelay`] for one that is).
    Delay(Duration),
    /// Handle the request (a create is applied), then close the connection
    /// without answering: the client cannot know the outcome. Needs the
    /// simulator's own server ([`Sim::spawn`](crate::Sim::spawn),
    /// [`Sim::serve`](crate::Sim::serve)); under another server the
    /// response fails mid-flight instead.
    ApplyThenDrop,
    /// Handle the request, then answer only after the delay.
    ApplyThenDelay(Duration),
    /// Wait, then handle the request whether or not the client is still
    /// there: a create is applied at the end of the delay even if the
    /// client timed out and closed the connection meanwhile (a create
    /// Jira commits after the client gave up on it). The answer, if
    /// anyone is left to read it, comes after the delay.
    DelayThenApply(Duration),
}

impl FaultKind {
    /// A bare status with Jira's default body.
    pub fn status(status: u16) -> FaultKind {
        FaultKind::Status {
            status,
            retry_after: None,
            body: None,
        }
    }

    /// `429 Too Many Requests` with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> FaultKind {
        FaultKind::Status {
            status: 429,
            retry_after: Some(seconds),
            body: None,
        }
    }
}
