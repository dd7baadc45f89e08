# Risk classification, as rule tables (policy as code), evaluated in-process by regopy (include/policies/engine.py).
#
# Two moments, two decisions: `door` sees only the ticket's text (at intake) and raises the class the ticket's
# words asked for; `diff` sees the change the agents produced (before any push and before merge) and may only
# raise the class planned at the door. When in doubt the tables err upwards: an over-classified ticket costs one
# human click, an under-classified one merges unreviewed code.
#
# Input is normalised by the caller: text, tags and the work-item type lower-cased (Rego's lower() is ASCII-only),
# paths repository-relative with forward slashes, lower-cased. Regexes are RE2 (ASCII \w and \b).
package ticketpilot.risk

import rego.v1

rank := {"R0": 0, "R1": 1, "R2": 2, "R3": 3}

# Security-relevant words, English and German. A memory or connection leak is a bug, not an exposure: no 'leak'
# here (a leaked credential is a secret-remediation ticket, R3 by its kind).
security_words := [
	"secrets?", "credentials?", "passwords?", `api[ _-]?keys?`, "tokens?", `authenticat\w*`, `authori[sz]\w*`,
	"sso", `oauth\w*`, "jwt", "permissions?", `encrypt\w*`, "csrf", "xss",
	"sql[ -]injection", `vulnerabilit\w*`, "zugangsdaten", `passw(?:o|ö)rt\w*`, `kennw(?:o|ö)rt\w*`,
	`[\w-]*schlüssel`, `authentifizier\w*`, `autorisier\w*`, `anmeld\w*`, `berechtigung\w*`,
	`verschlüssel\w*`, `schwachstelle\w*`, `sicherheitslücke\w*`,
]

production_words := [
	"production", "prod", `produktion\w*`, `produktiv\w*`, `live[ -]system\w*`,
	`(?:database|db|schema)[ -]migrations?`, `datenbankmigration\w*`,
]

# A floor is a minimum class. `tag` and `work_item_type` floors match a whole tag or the type; `text` floors
# find any of their words, as whole words, in the title or description; the `injection` floor is met by any
# finding of the injection tripwire.
floors := [
	{"where": "tag", "pattern": "security|production", "risk": "R3",
	 "why": "security or production-near work needs a named approver"},
	{"where": "tag", "pattern": concat("|", security_words), "risk": "R3",
	 "why": "the board files it under credentials or authentication"},
	{"where": "tag", "pattern": "major", "risk": "R2",
	 "why": "the author calls the change major (for a bump: a major version, which may break callers)"},
	{"where": "tag", "pattern": "risk:r0", "risk": "R0", "why": "set by the ticket's author"},
	{"where": "tag", "pattern": "risk:r1", "risk": "R1", "why": "set by the ticket's author"},
	{"where": "tag", "pattern": "risk:r2", "risk": "R2", "why": "set by the ticket's author"},
	{"where": "tag", "pattern": "risk:r3", "risk": "R3", "why": "set by the ticket's author"},
	{"where": "work_item_type", "pattern": "epic|feature", "risk": "R2",
	 "why": "epics and features are large by definition, whatever the title says"},
	{"where": "text", "pattern": concat("|", security_words), "risk": "R3",
	 "why": "the ticket talks about credentials, authentication or a vulnerability: security-relevant"},
	{"where": "text", "pattern": concat("|", production_words), "risk": "R3",
	 "why": "production systems and their data: a named approver"},
	{"where": "injection", "pattern": "", "risk": "R3",
	 "why": "the ticket's text tries to instruct the agents (prompt injection): a named approver reads it first"},
]

# More changed lines than this is a 'larger' change (R2) whatever the ticket said; so is a change across repos.
large_diff_lines := 200

secret_files := ["*secret*", "*credential*", "*.pem", "*.key", "*.pfx", "*.p12", ".env", "*/.env", ".env.*", "*/.env.*"]

auth_dirs := ["auth/*", "*/auth/*", "security/*", "*/security/*"]

infra := [
	"infra/*", "*/infra/*", "terraform/*", "*/terraform/*", "*.tf", "*.tfvars", "k8s/*", "*/k8s/*",
	"helm/*", "*/helm/*",
]

ci_definitions := [".github/*", "azure-pipelines*.yml", "*/azure-pipelines*.yml", ".azure-pipelines/*", ".gitlab-ci.yml"]

# Changed files matching `glob` (`*` also crosses `/`) raise the class to `risk`, unless the ticket is of
# `exempt_kind`, for which such files are the expected change. Order matters only for the reason a person reads.
path_rules := array.concat(
	array.concat(
		[{"glob": g, "risk": "R3", "why": "touches secret material", "exempt_kind": ""} | some g in secret_files],
		[{"glob": g, "risk": "R3", "why": "touches authentication or security code", "exempt_kind": ""} | some g in auth_dirs],
	),
	array.concat(
		array.concat(
			[{"glob": g, "risk": "R3", "why": "touches infrastructure definitions", "exempt_kind": ""} | some g in infra],
			[
				{"glob": "codeowners", "risk": "R3", "why": "changes who must review", "exempt_kind": ""},
				{"glob": "*/codeowners", "risk": "R3", "why": "changes who must review", "exempt_kind": ""},
			],
		),
		[{"glob": g, "risk": "R3", "why": "CI definitions run with pipeline secrets", "exempt_kind": "pipeline"} |
			some g in ci_definitions],
	),
)

# ---- a tenant's bundle ----------------------------------------------------------------------------------------
# A tenant may add a module `package ticketpilot.tenant` (include/policies/tenant_bundles.py) with more floors
# (`door_floors`: {risk, why}, computed from the same input) and more path rules (`path_rules`: {glob, risk,
# why}). They can only tighten: every decision takes the highest class any rule asks for, and a tenant's module
# cannot define anything in this package.

default tenant_floors := []

tenant_floors := [{"risk": f.risk, "why": concat("", [f.why, " (tenant policy)"])} |
	some f in data.ticketpilot.tenant.door_floors
]

default tenant_path_rules := []

tenant_path_rules := [{"glob": lower(r.glob), "risk": r.risk, "why": concat("", [r.why, " (tenant policy)"]),
	"exempt_kind": ""} |
	some r in data.ticketpilot.tenant.path_rules
]

all_path_rules := array.concat(path_rules, tenant_path_rules)

# ---- the door ------------------------------------------------------------------------------------------------

floor_met(f) if {
	f.where == "tag"
	some tag in input.tags
	regex.match(concat("", ["^(?:", f.pattern, ")$"]), tag)
}

floor_met(f) if {
	f.where == "work_item_type"
	regex.match(concat("", ["^(?:", f.pattern, ")$"]), input.work_item_type)
}

# `input.injection`: the rules of the router's injection tripwire (model_serving/router/injection.py) the text met.
floor_met(f) if {
	f.where == "injection"
	count(input.injection) > 0
}

floor_met(f) if {
	f.where == "text"
	regex.match(concat("", [`\b(?:`, f.pattern, `)\b`]), input.text)
}

door_floors := array.concat(
	[f |
		some f in floors
		floor_met(f)
	],
	tenant_floors,
)

door := {
	"risk": highest(array.concat([input.planned], [f.risk | some f in door_floors])),
	"reasons": [concat("", [f.why, " (", f.risk, ")"]) | some f in door_floors], # not sprintf: rego-cpp quotes a computed string
}

# ---- the diff ------------------------------------------------------------------------------------------------

applies(rule) if rule.exempt_kind == ""

applies(rule) if rule.exempt_kind != input.kind

# Every rule's glob as one alternation: most changed paths meet no rule, and one match per path says so.
any_rule_glob := concat("", ["{", concat(",", [r.glob | some r in all_path_rules]), "}"])

# The first rule each changed path meets.
first_rule[path] := all_path_rules[i] if {
	some path in input.files
	glob.match(any_rule_glob, ["\u0000"], path)
	matched := {j |
		some j
		rule := all_path_rules[j] # bound first: rego-cpp leaves `path_rules[j].glob` as a builtin's argument unbound
		applies(rule)
		glob.match(rule.glob, ["\u0000"], path)
	}
	count(matched) > 0
	i := min(matched)
}

size_floor := ["R2"] if {
	input.lines_changed > large_diff_lines
} else := ["R2"] if {
	input.repos > 1
} else := []

diff := {
	"risk": highest(array.concat(array.concat([input.planned], size_floor), [r.risk | some r in first_rule])),
	"paths": first_rule,
	"large_diff_lines": large_diff_lines,
}

# ---- helpers -------------------------------------------------------------------------------------------------

# A class these tables do not know counts as R3: a typo in a tenant's rule errs upwards.
highest(classes) := c if {
	top := max({object.get(rank, x, 3) | some x in classes})
	some c, n in rank
	n == top
}
