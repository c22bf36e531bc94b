//! Key builders and TTL constants, as the guide defines them (`src/lib/cache.ts`). The
//! namespace prefix (`unite-hub:`-style, REDIS_KEY_PREFIX) is applied by the Redis store, so
//! these builders return keys without it.

use std::time::Duration;

/// The guide's TTL strategy.
pub mod ttl {
    use super::Duration;
    /// 1 minute: real-time data.
    pub const SHORT: Duration = Duration::from_secs(60);
    /// 5 minutes: frequently changing data.
    pub const MEDIUM: Duration = Duration::from_secs(300);
    /// 15 minutes: semi-static data.
    pub const LONG: Duration = Duration::from_secs(900);
    /// 1 hour: rarely changing data.
    pub const HOUR: Duration = Duration::from_secs(3600);
    /// 24 hours: static reference data.
    pub const DAY: Duration = Duration::from_secs(86_400);
}

/// `user:profile:{id}`
pub fn user_profile(user_id: &str) -> String {
    format!("user:profile:{user_id}")
}

/// `user:organizations:{id}`
pub fn user_organizations(user_id: &str) -> String {
    format!("user:organizations:{user_id}")
}

/// `user:workspaces:{id}`
pub fn user_workspaces(user_id: &str) -> String {
    format!("user:workspaces:{user_id}")
}

/// `contact:{id}`
pub fn contact(contact_id: &str) -> String {
    format!("contact:{contact_id}")
}

/// `contacts:workspace:{workspace}:{page}`; invalidate them all with
/// [`contacts_by_workspace_pattern`].
pub fn contacts_by_workspace(workspace_id: &str, page: u32) -> String {
    format!("contacts:workspace:{workspace_id}:{page}")
}

/// `contacts:workspace:{workspace}:*`
pub fn contacts_by_workspace_pattern(workspace_id: &str) -> String {
    format!("contacts:workspace:{workspace_id}:*")
}

/// `contact:score:{id}`
pub fn contact_score(contact_id: &str) -> String {
    format!("contact:score:{contact_id}")
}

/// `leads:hot:{workspace}`
pub fn hot_leads(workspace_id: &str) -> String {
    format!("leads:hot:{workspace_id}")
}

/// `campaign:{id}`
pub fn campaign(campaign_id: &str) -> String {
    format!("campaign:{campaign_id}")
}

/// `campaign:stats:{id}`
pub fn campaign_stats(campaign_id: &str) -> String {
    format!("campaign:stats:{campaign_id}")
}

/// `campaigns:workspace:{workspace}`
pub fn campaigns_by_workspace(workspace_id: &str) -> String {
    format!("campaigns:workspace:{workspace_id}")
}

/// `email:thread:{id}`
pub fn email_thread(thread_id: &str) -> String {
    format!("email:thread:{thread_id}")
}

/// `emails:contact:{id}`
pub fn emails_by_contact(contact_id: &str) -> String {
    format!("emails:contact:{contact_id}")
}

/// `ai:suggestion:{node}`
pub fn ai_suggestion(node_id: &str) -> String {
    format!("ai:suggestion:{node_id}")
}

/// `ai:analysis:{contact}`
pub fn ai_analysis(contact_id: &str) -> String {
    format!("ai:analysis:{contact_id}")
}

/// `content:draft:{id}`
pub fn content_draft(draft_id: &str) -> String {
    format!("content:draft:{draft_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_guides_invalidation_table() {
        assert_eq!(contact("abc"), "contact:abc");
        assert_eq!(contact_score("abc"), "contact:score:abc");
        assert_eq!(emails_by_contact("abc"), "emails:contact:abc");
        assert_eq!(campaign_stats("x"), "campaign:stats:x");
        assert_eq!(ai_suggestion("n"), "ai:suggestion:n");
        let page = contacts_by_workspace("abc123", 2);
        let pattern = contacts_by_workspace_pattern("abc123");
        assert!(crate::cache::memory_store::glob_match(
            pattern.as_bytes(),
            page.as_bytes()
        ));
    }

    #[test]
    fn ttls_are_the_guides() {
        assert_eq!(ttl::SHORT.as_secs(), 60);
        assert_eq!(ttl::MEDIUM.as_secs(), 300);
        assert_eq!(ttl::LONG.as_secs(), 900);
        assert_eq!(ttl::HOUR.as_secs(), 3600);
        assert_eq!(ttl::DAY.as_secs(), 86_400);
    }
}
