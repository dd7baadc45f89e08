# What may be pushed: checked by the Dev step on the change it is about to commit, before anything reaches the
# forge, never by the model. The platform's limits are wide (a change bigger than this is not one ticket); a
# tenant's bundle narrows them (`max_lines`, `max_files`) and forbids paths (`deny_paths`, globs against
# lower-cased repository paths, `*` crossing `/`), and can only narrow: the smaller limit wins.
package ticketpilot.push

import rego.v1

max_lines := 10000

max_files := 500

default tenant_max_lines := 10000

tenant_max_lines := data.ticketpilot.tenant.max_lines

default tenant_max_files := 500

tenant_max_files := data.ticketpilot.tenant.max_files

default tenant_deny_paths := []

tenant_deny_paths := [lower(g) | some g in data.ticketpilot.tenant.deny_paths]

# The smaller limit wins (spelled out: rego-cpp's min() over these two came back with the larger one).
line_limit := tenant_max_lines if {
	tenant_max_lines < max_lines
} else := max_lines

file_limit := tenant_max_files if {
	tenant_max_files < max_files
} else := max_files

refusals contains concat("", [format_int(input.lines_changed, 10), " changed lines, more than the ", format_int(line_limit, 10), " one change may hold"]) if {
	input.lines_changed > line_limit
}

refusals contains concat("", [format_int(count(input.files), 10), " changed files, more than the ", format_int(file_limit, 10), " one change may hold"]) if {
	count(input.files) > file_limit
}

refusals contains concat("", [path, " is a path the tenant's policy keeps agents out of (", g, ")"]) if {
	some path in input.files
	some g in tenant_deny_paths
	glob.match(g, ["\u0000"], path)
}

decision := {"allow": count(refusals) == 0, "reasons": sort([r | some r in refusals])}
