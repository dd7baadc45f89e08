# What the tool-using loop may do (include/agents/loop): its tools, and the programs `run_command` starts.
#
# A tenant's bundle may take tools and programs away, for all its repositories or for some (`deny_tools` and
# `deny_programs` are sets computed from the input, which carries the repository); it cannot add any. Whatever
# is allowed still runs only in the sandbox (no network, only the working copy writable).
package ticketpilot.tools

import rego.v1

tools := {
	"list_files", "search_text", "search_code", "read_file", "replace_text", "create_file", "delete_file",
	"rename_file", "run_tests", "run_command", "apply_playbook",
}

programs := {"python", "pytest", "ruff", "mypy", "node", "npm", "npx", "dotnet", "make", "tox", "git"}

default tenant_denied_tools := set()

tenant_denied_tools := {t | some t in data.ticketpilot.tenant.deny_tools}

default tenant_denied_programs := set()

tenant_denied_programs := {p | some p in data.ticketpilot.tenant.deny_programs}

refusals contains concat("", [input.tool, " is not one of the loop's tools"]) if {
	not input.tool in tools
}

refusals contains concat("", ["the tenant's policy takes ", input.tool, " away for ", input.repo]) if {
	input.tool in tenant_denied_tools
}

refusals contains concat("", [input.program, " is not a program this loop runs; use one of ", concat(", ", sort([p | some p in programs]))]) if {
	input.tool == "run_command"
	not input.program in programs
}

refusals contains concat("", ["the tenant's policy does not let the loop run ", input.program, " in ", input.repo]) if {
	input.tool == "run_command"
	input.program in tenant_denied_programs
}

decision := {"allow": count(refusals) == 0, "reasons": sort([r | some r in refusals])}
