-- The audit trail names the front door a call came in by, the MCP client
-- where one named itself, and the operation. Rows written before this
-- migration were Glean's create_issue calls.
ALTER TABLE audit ADD COLUMN front_door TEXT NOT NULL DEFAULT 'glean';
ALTER TABLE audit ADD COLUMN client TEXT;
ALTER TABLE audit ADD COLUMN operation TEXT NOT NULL DEFAULT 'create_issue';
