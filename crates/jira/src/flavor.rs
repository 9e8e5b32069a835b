//! Which Jira a client talks to. Cloud and Data Center (or Server) share
//! most of the REST API; where they differ (the API version, how people
//! are named and found, descriptions, search), the client answers the
//! same questions for both, so the code above it has one path.

use serde::{Deserialize, Serialize};

/// Jira Cloud (REST v3, account ids, ADF) or Jira Data Center and Server
/// (REST v2, usernames, wiki markup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    Cloud,
    #[serde(rename = "datacenter")]
    DataCenter,
}

impl Flavor {
    /// The REST API version the client uses: 3 on Cloud (ADF), 2 on Data
    /// Center (which has no v3).
    pub fn api_version(self) -> &'static str {
        match self {
            Flavor::Cloud => "3",
            Flavor::DataCenter => "2",
        }
    }

    /// `cloud` or `datacenter`, as configured.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Cloud => "cloud",
            Flavor::DataCenter => "datacenter",
        }
    }

    /// What `serverInfo.deploymentType` says: `Cloud` on Cloud, `Server`
    /// on Data Center and Server alike.
    pub fn from_deployment_type(deployment_type: &str) -> Flavor {
        if deployment_type.eq_ignore_ascii_case("cloud") {
            Flavor::Cloud
        } else {
            Flavor::DataCenter
        }
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_types_name_the_flavour() {
        assert_eq!(Flavor::from_deployment_type("Cloud"), Flavor::Cloud);
        assert_eq!(Flavor::from_deployment_type("Server"), Flavor::DataCenter);
        assert_eq!(
            Flavor::from_deployment_type("DataCenter"),
            Flavor::DataCenter
        );
    }

    #[test]
    fn flavours_parse_as_configured() {
        let parsed: Flavor = serde_json::from_str("\"datacenter\"").expect("parse");
        assert_eq!(parsed, Flavor::DataCenter);
        let parsed: Flavor = serde_json::from_str("\"cloud\"").expect("parse");
        assert_eq!(parsed, Flavor::Cloud);
    }
}
