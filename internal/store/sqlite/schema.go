package sqlite

// migrations are applied in order; migrations[i] brings the schema from version i to i+1. A
// released migration is never edited: a change is a new entry at the end.
//
// Each entity is one row: the columns the Store looks things up by, plus doc, the whole value
// as JSON (nested lists included). Identifier URIs and tenant domains get tables of their own
// because they are looked up and must be unique. The JSON uses the directory types' Go field
// names: adding a field needs nothing, renaming or retyping one needs a migration here. Rows keep their rowid across replacement
// (INSERT … ON CONFLICT DO UPDATE), so lists come back in creation order.
var migrations = []string{
	// 1: the directory and the protocol state.
	`
CREATE TABLE tenants (
	id   TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
	doc  TEXT NOT NULL
);
CREATE TABLE tenant_domains (
	domain    TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
	tenant_id TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id) ON DELETE CASCADE
);
CREATE INDEX tenant_domains_tenant ON tenant_domains(tenant_id);

CREATE TABLE applications (
	tenant_id TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id),
	id        TEXT NOT NULL COLLATE NOCASE,
	app_id    TEXT NOT NULL COLLATE NOCASE,
	doc       TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, app_id)
);
CREATE TABLE application_uris (
	tenant_id      TEXT NOT NULL COLLATE NOCASE,
	uri            TEXT NOT NULL,
	application_id TEXT NOT NULL COLLATE NOCASE,
	PRIMARY KEY (tenant_id, uri),
	FOREIGN KEY (tenant_id, application_id) REFERENCES applications(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX application_uris_app ON application_uris(tenant_id, application_id);

CREATE TABLE service_principals (
	tenant_id TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id),
	id        TEXT NOT NULL COLLATE NOCASE,
	app_id    TEXT NOT NULL COLLATE NOCASE,
	doc       TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, app_id)
);

CREATE TABLE permission_grants (
	tenant_id   TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id),
	id          TEXT NOT NULL,
	client_id   TEXT NOT NULL COLLATE NOCASE,
	resource_id TEXT NOT NULL COLLATE NOCASE,
	doc         TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX permission_grants_client ON permission_grants(tenant_id, client_id);
CREATE INDEX permission_grants_resource ON permission_grants(tenant_id, resource_id);

CREATE TABLE app_role_assignments (
	tenant_id    TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id),
	id           TEXT NOT NULL,
	principal_id TEXT NOT NULL COLLATE NOCASE,
	resource_id  TEXT NOT NULL COLLATE NOCASE,
	doc          TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX app_role_assignments_principal ON app_role_assignments(tenant_id, principal_id);
CREATE INDEX app_role_assignments_resource ON app_role_assignments(tenant_id, resource_id);

CREATE TABLE users (
	tenant_id TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id),
	id        TEXT NOT NULL COLLATE NOCASE,
	upn       TEXT NOT NULL COLLATE NOCASE,
	doc       TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, upn)
);

CREATE TABLE signing_keys (
	tenant_id TEXT NOT NULL COLLATE NOCASE REFERENCES tenants(id),
	id        TEXT NOT NULL,
	doc       TEXT NOT NULL,
	PRIMARY KEY (tenant_id, id)
);

CREATE TABLE grants (
	kind      TEXT NOT NULL,
	key       TEXT NOT NULL,
	family    TEXT NOT NULL,
	tenant_id TEXT NOT NULL,
	data      BLOB,
	used      INTEGER NOT NULL,
	expires   INTEGER,
	PRIMARY KEY (kind, key)
);
CREATE INDEX grants_family ON grants(family) WHERE family <> '';
CREATE INDEX grants_expires ON grants(expires) WHERE expires IS NOT NULL;
`,
}
