CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE experiments (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE runs (
	id VARCHAR(32) NOT NULL, 
	experiment_id INTEGER, 
	pipeline_name VARCHAR(200) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	spec_json TEXT NOT NULL, 
	spec_digest VARCHAR(64) NOT NULL, 
	source VARCHAR(1000) NOT NULL, 
	parent_run_id VARCHAR(32), 
	error TEXT, 
	host VARCHAR(200) NOT NULL, 
	pid INTEGER, archived INTEGER DEFAULT '0' NOT NULL, pipeline_version_id INTEGER, name VARCHAR(100), 
	PRIMARY KEY (id), 
	FOREIGN KEY(experiment_id) REFERENCES experiments (id)
);

CREATE INDEX ix_runs_created ON runs (created_at);

CREATE INDEX ix_runs_status ON runs (status);

CREATE TABLE run_params (
	run_id VARCHAR(32) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	type VARCHAR(16) NOT NULL, 
	value JSON, 
	PRIMARY KEY (run_id, name), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE TABLE tasks (
	id INTEGER NOT NULL, 
	run_id VARCHAR(32) NOT NULL, 
	step VARCHAR(200) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	cache_key VARCHAR(64), 
	cached_from INTEGER, 
	attempts INTEGER NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	error TEXT, 
	log_path VARCHAR(1000), 
	PRIMARY KEY (id), 
	UNIQUE (run_id, step), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE INDEX ix_tasks_cache_key ON tasks (cache_key);

CREATE TABLE artifacts (
	id INTEGER NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	size BIGINT NOT NULL, 
	codec VARCHAR(64) NOT NULL, 
	codec_version INTEGER NOT NULL, 
	type_name VARCHAR(300) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (digest, codec, codec_version, type_name)
);

CREATE TABLE events (
	id INTEGER NOT NULL, 
	task_id INTEGER NOT NULL, 
	artifact_id INTEGER NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(task_id) REFERENCES tasks (id) ON DELETE CASCADE, 
	FOREIGN KEY(artifact_id) REFERENCES artifacts (id)
);

CREATE INDEX ix_events_task ON events (task_id);

CREATE INDEX ix_events_artifact ON events (artifact_id);

CREATE TABLE metrics (
	id INTEGER NOT NULL, 
	run_id VARCHAR(32) NOT NULL, 
	task_id INTEGER, 
	name VARCHAR(200) NOT NULL, 
	value FLOAT NOT NULL, 
	step INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE, 
	FOREIGN KEY(task_id) REFERENCES tasks (id) ON DELETE CASCADE
);

CREATE INDEX ix_metrics_run ON metrics (run_id, name);

CREATE TABLE services (
	name VARCHAR(200) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	config_json TEXT NOT NULL, 
	host VARCHAR(200) NOT NULL, 
	port INTEGER, 
	pid INTEGER, 
	log_path VARCHAR(1000) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE studies (
	id VARCHAR(32) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	pipeline_name VARCHAR(200) NOT NULL, 
	source VARCHAR(1000) NOT NULL, 
	spec_json TEXT NOT NULL, 
	config_json TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	error TEXT, 
	host VARCHAR(200) NOT NULL, 
	pid INTEGER, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE trials (
	id INTEGER NOT NULL, 
	study_id VARCHAR(32) NOT NULL, 
	number INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	params JSON NOT NULL, 
	value FLOAT, 
	metrics JSON NOT NULL, 
	intermediate JSON NOT NULL, 
	run_id VARCHAR(32), 
	error TEXT, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (study_id, number), 
	FOREIGN KEY(study_id) REFERENCES studies (id) ON DELETE CASCADE
);

CREATE TABLE volumes (
	name VARCHAR(200) NOT NULL, 
	path VARCHAR(1000) NOT NULL, 
	managed INTEGER NOT NULL, 
	retention JSON NOT NULL, 
	schedule JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE snapshots (
	id VARCHAR(64) NOT NULL, 
	volume VARCHAR(200) NOT NULL, 
	tree VARCHAR(64) NOT NULL, 
	parent_id VARCHAR(64), 
	message TEXT NOT NULL, 
	tags JSON NOT NULL, 
	files INTEGER NOT NULL, 
	size BIGINT NOT NULL, 
	added BIGINT NOT NULL, 
	run_id VARCHAR(32), 
	step VARCHAR(200), 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_snapshots_volume ON snapshots (volume, created_at);

CREATE TABLE task_volumes (
	task_id INTEGER NOT NULL, 
	mount VARCHAR(200) NOT NULL, 
	volume VARCHAR(200) NOT NULL, 
	snapshot_id VARCHAR(64), 
	PRIMARY KEY (task_id, mount), 
	FOREIGN KEY(task_id) REFERENCES tasks (id) ON DELETE CASCADE
);

CREATE TABLE pipelines (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	description TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE pipeline_versions (
	id INTEGER NOT NULL, 
	pipeline_id INTEGER NOT NULL, 
	number INTEGER NOT NULL, 
	filename VARCHAR(300) NOT NULL, 
	entry VARCHAR(200) NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	spec_json TEXT NOT NULL, 
	spec_digest VARCHAR(64) NOT NULL, 
	message TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (pipeline_id, number), 
	FOREIGN KEY(pipeline_id) REFERENCES pipelines (id) ON DELETE CASCADE
);

CREATE TABLE run_labels (
	run_id VARCHAR(32) NOT NULL, 
	"key" VARCHAR(100) NOT NULL, 
	value VARCHAR(300) NOT NULL, 
	PRIMARY KEY (run_id, "key"), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE
);

CREATE INDEX ix_run_labels_key ON run_labels ("key", value);

CREATE TABLE visuals (
	id INTEGER NOT NULL, 
	run_id VARCHAR(32) NOT NULL, 
	task_id INTEGER, 
	name VARCHAR(200) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	data TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE, 
	FOREIGN KEY(task_id) REFERENCES tasks (id) ON DELETE CASCADE
);

CREATE INDEX ix_visuals_run ON visuals (run_id);

CREATE TABLE schedules (
	id INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	pipeline VARCHAR(200) NOT NULL, 
	version INTEGER, 
	params JSON NOT NULL, 
	experiment VARCHAR(200), 
	every INTEGER, 
	cron VARCHAR(100), 
	max_concurrency INTEGER NOT NULL, 
	paused INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_started_at DATETIME, 
	last_run_id VARCHAR(32), 
	last_error TEXT, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE INDEX ix_runs_name ON runs (name);

CREATE TABLE users (
	id INTEGER NOT NULL, 
	name VARCHAR(128) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	password_hash TEXT, 
	is_admin INTEGER NOT NULL, 
	disabled INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE groups (
	id INTEGER NOT NULL, 
	name VARCHAR(63) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE group_members (
	group_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	PRIMARY KEY (group_id, user_id), 
	FOREIGN KEY(group_id) REFERENCES groups (id) ON DELETE CASCADE, 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE namespaces (
	name VARCHAR(63) NOT NULL, 
	owner_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (name), 
	FOREIGN KEY(owner_id) REFERENCES users (id)
);

CREATE TABLE role_bindings (
	namespace VARCHAR(63) NOT NULL, 
	subject_kind VARCHAR(8) NOT NULL, 
	subject_id INTEGER NOT NULL, 
	role VARCHAR(8) NOT NULL, 
	PRIMARY KEY (namespace, subject_kind, subject_id), 
	FOREIGN KEY(namespace) REFERENCES namespaces (name) ON DELETE CASCADE
);

CREATE TABLE grants (
	namespace VARCHAR(63) NOT NULL, 
	object_kind VARCHAR(16) NOT NULL, 
	object_name VARCHAR(200) NOT NULL, 
	subject_kind VARCHAR(8) NOT NULL, 
	subject_id INTEGER NOT NULL, 
	level VARCHAR(8) NOT NULL, 
	created_by VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (namespace, object_kind, object_name, subject_kind, subject_id)
);

CREATE TABLE tokens (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	kind VARCHAR(8) NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	prefix VARCHAR(16) NOT NULL, 
	read_only INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME, 
	last_used_at DATETIME, 
	revoked_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE, 
	UNIQUE (digest)
);

CREATE INDEX ix_tokens_user ON tokens (user_id);

CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	actor VARCHAR(128) NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	namespace VARCHAR(63), 
	target VARCHAR(500) NOT NULL, 
	status INTEGER NOT NULL, 
	address VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_audit_at ON audit_log (at);

CREATE TABLE login_failures (
	"key" VARCHAR(200) NOT NULL, 
	count INTEGER NOT NULL, 
	last_at DATETIME NOT NULL, 
	PRIMARY KEY ("key")
);

CREATE TABLE buckets (
	id INTEGER NOT NULL, 
	owner VARCHAR(128) NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	visibility VARCHAR(8) NOT NULL, 
	origin VARCHAR(500), 
	head INTEGER NOT NULL, 
	description TEXT NOT NULL, 
	created_by VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	deleted_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_buckets_owner_name UNIQUE (owner, name)
);

CREATE TABLE bucket_versions (
	bucket_id INTEGER NOT NULL, 
	number INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	namespace VARCHAR(63) NOT NULL, 
	manifest TEXT NOT NULL, 
	message TEXT NOT NULL, 
	author VARCHAR(128) NOT NULL, 
	tags JSON NOT NULL, 
	size BIGINT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (bucket_id, number), 
	FOREIGN KEY(bucket_id) REFERENCES buckets (id) ON DELETE CASCADE
);

CREATE TABLE registry_pins (
	id INTEGER NOT NULL, 
	reason VARCHAR(300) NOT NULL, 
	trees JSON NOT NULL, 
	artifacts JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE subscriptions (
	id INTEGER NOT NULL, 
	bucket VARCHAR(300) NOT NULL, 
	sources JSON NOT NULL, 
	token TEXT, 
	target_kind VARCHAR(8) NOT NULL, 
	target VARCHAR(200) NOT NULL, 
	version INTEGER NOT NULL, 
	paused INTEGER NOT NULL, 
	created_by VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_sync_at DATETIME, 
	last_error TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_subscriptions_target UNIQUE (target_kind, target)
);

CREATE TABLE models (
	id INTEGER NOT NULL, 
	name VARCHAR(63) NOT NULL, 
	description TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE model_versions (
	model_id INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	digest VARCHAR(64) NOT NULL, 
	size BIGINT NOT NULL, 
	codec VARCHAR(50) NOT NULL, 
	codec_version INTEGER NOT NULL, 
	type_name VARCHAR(300) NOT NULL, 
	source VARCHAR(300) NOT NULL, 
	run_id VARCHAR(32), 
	lineage JSON NOT NULL, 
	created_by VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (model_id, version), 
	FOREIGN KEY(model_id) REFERENCES models (id) ON DELETE CASCADE
);

CREATE TABLE model_aliases (
	model_id INTEGER NOT NULL, 
	alias VARCHAR(63) NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (model_id, alias), 
	FOREIGN KEY(model_id) REFERENCES models (id) ON DELETE CASCADE
);

CREATE TABLE model_alias_history (
	id INTEGER NOT NULL, 
	model_id INTEGER NOT NULL, 
	alias VARCHAR(63) NOT NULL, 
	version INTEGER, 
	changed_by VARCHAR(128) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(model_id) REFERENCES models (id) ON DELETE CASCADE
);

INSERT INTO alembic_version (version_num) VALUES ('0009');
