import pytest

from crisis.playbooks.loader import (
    SCHEMA,
    PlaybookError,
    PlaybookIssue,
    content_hash,
    load_directory,
    load_playbook,
    validate_paths,
)

from .factories import FIXTURES, edited, fixture_text, issues_of, line_of, load, only_issue


def test_minimal_playbook_loads():
    playbook = load(fixture_text())
    assert (playbook.id, playbook.version, playbook.path) == ("test-minimal", 1, "test.yaml")
    assert playbook.warnings == ()
    assert playbook.content["phases"][0]["steps"][1]["when"] == {"relative.consent": "given"}


def test_issue_formats_as_file_line_column_path_message():
    issue = PlaybookIssue("p.yaml", 12, 15, "phases[0].steps[0].role", "unknown role 'x'")
    assert str(issue) == "p.yaml:12:15: phases[0].steps[0].role: unknown role 'x'"
    assert str(PlaybookIssue("p.yaml", 1, 1, "", "empty")) == "p.yaml:1:1: empty"
    warning = PlaybookIssue("p.yaml", 3, 8, "title", "no English text", "warning")
    assert str(warning) == "p.yaml:3:8: title: warning: no English text"


def test_broken_fixture_reports_every_problem_with_its_line():
    with pytest.raises(PlaybookError) as error:
        load_playbook(FIXTURES / "broken.yaml")
    located = [(issue.line, issue.column, issue.path) for issue in error.value.issues]
    assert located == [
        (12, 15, "phases[0].steps[0].role"),
        (14, 38, "phases[0].steps[0].due.in"),
        (16, 18, "messages.dispatch.sv"),
    ]
    assert all(issue.file.endswith("broken.yaml") for issue in error.value.issues)


# --- YAML itself --------------------------------------------------------------


def test_yaml_syntax_error_has_the_line_pyyaml_reports():
    with pytest.raises(PlaybookError) as error:
        load_playbook(FIXTURES / "syntax-error.yaml")
    (issue,) = error.value.issues
    assert (issue.line, issue.column) == (4, 11)
    assert issue.message.startswith("YAML syntax error:")
    assert "started on line 3" in issue.message


def test_tab_indentation_says_to_use_spaces():
    text = edited("    title: {sv: Akut, en: Acute}\n", "\ttitle: {sv: Akut, en: Acute}\n")
    issue = only_issue(text)
    assert issue.line == line_of(text, "\ttitle")
    assert "indent with spaces, not tabs" in issue.message


def test_duplicate_key_in_a_mapping():
    text = edited(
        "        role: coordinator\n", "        role: coordinator\n        role: manager\n"
    )
    issue = only_issue(text)
    assert (issue.line, issue.column) == (line_of(text, "role: manager"), 9)
    assert issue.path == "phases[0].steps[0].role"
    assert (
        issue.message
        == f"duplicate key 'role' (first on line {line_of(text, 'role: coordinator')}); keep only one"
    )


def test_merge_keys_are_refused():
    text = edited("        role: coordinator\n", "        <<: {role: coordinator}\n")
    (issue,) = [issue for issue in issues_of(text) if "merge keys" in issue.message]
    assert (issue.line, issue.path) == (line_of(text, "<<"), "phases[0].steps[0]")
    assert issue.message.startswith("merge keys (<<) are not supported")


def test_an_alias_to_its_own_anchor_is_refused():
    text = edited("applies_to: [shooting, lethal_violence]", "applies_to: &loop [shooting, *loop]")
    assert "refers to its own anchor" in issues_of(text)[0].message


def test_empty_file():
    assert only_issue("# nothing yet\n").message.startswith("the file is empty")


def test_control_characters_are_refused_with_their_line():
    text = edited("version: 1", "version: 1\x07")
    issue = only_issue(text)
    assert (issue.line, issue.message) == (
        4,
        "control character U+0007 is not allowed in YAML; remove it",
    )


def test_top_level_must_be_a_mapping():
    assert "is a mapping of keys" in only_issue("- id: x\n").message


def test_norwegian_language_code_is_not_a_boolean():
    text = edited(
        "title: {sv: Testplan, en: Test plan}", "title: {sv: Testplan, en: Test plan, no: Testplan}"
    )
    assert load(text).content["title"]["no"] == "Testplan"


def test_dates_stay_text():
    text = edited("title: {sv: Testplan, en: Test plan}", "title: {sv: 2026-03-14, en: Test plan}")
    assert load(text).content["title"]["sv"] == "2026-03-14"


# --- Schema errors, explained ---------------------------------------------------


def test_unknown_role_suggests_the_closest():
    text = edited(
        "role: outreach\n        category: outreach", "role: outrech\n        category: outreach"
    )
    issue = only_issue(text)
    assert (issue.line, issue.column) == (line_of(text, "role: outrech"), 15)
    assert issue.path == "phases[0].steps[1].role"
    assert issue.message == (
        "unknown role 'outrech'; use one of: coordinator, outreach, manager, admin (did you mean 'outreach'?)"
    )


def test_unknown_anchor():
    text = edited("due: {after: death, in: 3mo}", "due: {after: burial, in: 3mo}")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "after: burial"),
        "phases[1].steps[0].due.after",
    )
    assert issue.message.startswith(
        "unknown anchor 'burial'; use one of: activation, occurred, death"
    )


def test_anchor_that_exists_but_not_for_follow_ups():
    text = edited("  after: first_contact\n", "  after: death\n")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (line_of(text, "  after: death\n"), "follow_ups.after")
    assert (
        issue.message == "anchor 'death' cannot be used here; use one of: activation, first_contact"
    )


def test_bad_duration_says_which_forms_are_accepted():
    text = edited("in: 24h}", "in: 24 hrs}")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (line_of(text, "24 hrs"), "phases[0].steps[1].due.in")
    assert issue.message.startswith(
        "'24 hrs' is not a duration; write a whole number from 0 to 999 and a unit"
    )


def test_bad_duration_in_a_list():
    text = edited("at: [1d, 1w, 1mo]", "at: [1d, 1 wk, 1mo]")
    issue = only_issue(text)
    assert (issue.line, issue.column, issue.path) == (line_of(text, "1 wk"), 12, "follow_ups.at[1]")


def test_missing_swedish_text():
    text = edited("title: {sv: Larma, en: Dispatch}", "title: {en: Dispatch}")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "title: {en: Dispatch}"),
        "phases[0].steps[0].title.sv",
    )
    assert issue.message == "missing Swedish text; every text needs sv (and en is expected)"


def test_missing_english_text_is_a_warning_and_the_playbook_loads():
    text = edited("title: {sv: Larma, en: Dispatch}", "title: {sv: Larma}")
    playbook = load(text)
    (warning,) = playbook.warnings
    assert (warning.severity, warning.line, warning.path) == (
        "warning",
        line_of(text, "title: {sv: Larma}"),
        "phases[0].steps[0].title",
    )
    assert "no English text (en)" in warning.message


def test_language_codes_are_two_letters():
    text = edited(
        "title: {sv: Testplan, en: Test plan}",
        "title: {sv: Testplan, en: Test plan, english: Test plan}",
    )
    issue = only_issue(text)
    assert (issue.line, issue.path) == (line_of(text, "english"), "title.english")
    assert "'english' is not a language code" in issue.message


def test_text_written_as_plain_string():
    text = edited("title: {sv: Larma, en: Dispatch}", "title: Larma")
    issue = only_issue(text)
    assert (
        issue.message
        == "must be a mapping, not text 'Larma'; write text per language, e.g. {sv: '...', en: '...'}"
    )


def test_unknown_fact_in_when():
    text = edited(
        "when: {relative.consent: given}", "when: {relative.consent: given, relative.age: 12}"
    )
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "relative.age"),
        'phases[0].steps[1].when["relative.age"]',
    )
    assert issue.column == text.splitlines()[issue.line - 1].index("relative.age") + 1
    assert issue.message.startswith(
        "unknown fact 'relative.age'; conditions can use incident.outcome"
    )


def test_unknown_fact_value_inside_a_list():
    text = edited("when: {relative.consent: given}", "when: {relative.consent: [given, yes]}")
    issues = issues_of(text)
    assert [(i.line, i.path) for i in issues] == [
        (line_of(text, "[given, yes]"), 'phases[0].steps[1].when["relative.consent"][1]')
    ]
    assert issues[0].message.startswith("unknown consent state 'yes'")


def test_wrong_kind_of_fact_value():
    text = edited(
        "when: {relative.consent: given}", "when: {relative.consent: given, relative.is_child: 1}"
    )
    issue = only_issue(text)
    assert issue.message == "must be true or false, a list or {not: ...}, not the number 1"


def test_not_condition_is_checked_inside():
    text = edited(
        "when: {relative.consent: given}",
        "when: {relative.consent: given, relative.language: {not: svenska}}",
    )
    issue = only_issue(text)
    assert issue.path == 'phases[0].steps[1].when["relative.language"].not'
    assert "use a two-letter ISO 639-1 language code" in issue.message


def test_unknown_agency():
    text = edited("agency: skatteverket", "agency: tax_agency")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (line_of(text, "tax_agency"), "phases[1].steps[0].agency")
    assert issue.message.startswith("unknown agency 'tax_agency'; use one of: skatteverket,")


def test_practical_help_needs_an_agency():
    text = edited("        agency: skatteverket\n", "")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "id: estate-inventory"),
        "phases[1].steps[0].agency",
    )
    assert issue.message.startswith(
        "a practical_help step needs an agency; add agency: one of skatteverket"
    )


def test_agency_on_other_categories_is_allowed():
    text = edited(
        "        category: coordination\n",
        "        category: coordination\n        agency: police\n",
    )
    assert load(text).content["phases"][0]["steps"][0]["agency"] == "police"


def test_missing_required_key_points_at_its_mapping():
    text = edited("        due: {after: activation, in: 30m}\n", "")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (line_of(text, "id: dispatch"), "phases[0].steps[0].due")
    assert issue.message == "missing required key 'due'; add it"


def test_unknown_key_suggests_the_closest():
    text = edited(
        "        role: coordinator\n", "        role: coordinator\n        deadline: 1d\n"
    )
    issue = only_issue(text)
    assert (issue.line, issue.column, issue.path) == (
        line_of(text, "deadline"),
        9,
        "phases[0].steps[0].deadline",
    )
    assert issue.message.startswith(
        "unknown key 'deadline'; allowed here: agency, category, checklist"
    )


def test_version_must_be_a_whole_number():
    text = edited("version: 1", 'version: "1"')
    assert only_issue(text).message == "must be a whole number, not text '1'"


def test_repeated_list_item():
    text = edited(
        "escalate_to: [next_in_team, coordinator]", "escalate_to: [coordinator, coordinator]"
    )
    issue = only_issue(text)
    assert (issue.line, issue.message) == (
        line_of(text, "[coordinator, coordinator]"),
        "lists 'coordinator' more than once; keep one",
    )


# --- Rules beyond the schema ----------------------------------------------------


def test_duplicate_step_ids_across_phases():
    text = edited("      - id: estate-inventory\n", "      - id: dispatch\n")
    issue = only_issue(text)
    first = line_of(text, "      - id: dispatch\n        title: {sv: Larma")
    assert (issue.line, issue.column, issue.path) == (
        line_of(text, "id: dispatch\n        for_each: deceased"),
        13,
        "phases[1].steps[0].id",
    )
    assert (
        issue.message
        == f"duplicate step id 'dispatch' (first on line {first}); step ids must be unique in the playbook"
    )


def test_duplicate_phase_ids():
    text = edited("  - id: practical\n", "  - id: acute\n")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "id: acute\n    title: {sv: Praktiskt"),
        "phases[1].id",
    )
    assert issue.message.startswith("duplicate phase id 'acute' (first on line 8)")


def test_unknown_placeholder_in_a_message():
    text = edited(
        'dispatch: {sv: "Larm {ref}: {link}"', 'dispatch: {sv: "Larm {ref} för {victim}: {link}"'
    )
    issue = only_issue(text)
    assert (issue.line, issue.column, issue.path) == (
        line_of(text, "{victim}"),
        18,
        "messages.dispatch.sv",
    )
    assert (
        issue.message
        == "unknown placeholder {victim} in the dispatch message; allowed: {kind}, {link}, {ref}"
    )


def test_placeholder_allowed_in_one_template_is_unknown_in_another():
    text = edited(
        'morning_summary: {sv: "{count_open} öppna: {link}"',
        'morning_summary: {sv: "{count_open} öppna, {ref}: {link}"',
    )
    assert "unknown placeholder {ref} in the morning_summary message" in only_issue(text).message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Larm {ref!r}: {link}", "placeholder {ref} takes no format or conversion; write {ref}"),
        ("Larm {ref:>10}: {link}", "placeholder {ref} takes no format or conversion; write {ref}"),
        (
            "Larm {ref.__class__}: {link}",
            "unknown placeholder {ref.__class__} in the dispatch message",
        ),
        ("Larm {}: {link}", "empty placeholder {}; name it"),
        ("Larm {ref: {link}", "unmatched '{' in format spec; write {{ or }} for a literal brace"),
        (
            "Larm ref}: {link}",
            "Single '}' encountered in format string; write {{ or }} for a literal brace",
        ),
    ],
)
def test_malformed_placeholders(template, message):
    text = edited('dispatch: {sv: "Larm {ref}: {link}"', f'dispatch: {{sv: "{template}"')
    assert message in only_issue(text).message


def test_literal_braces_are_allowed():
    text = edited(
        'dispatch: {sv: "Larm {ref}: {link}"', 'dispatch: {sv: "Larm {{akut}} {ref}: {link}"'
    )
    assert load(text).content["messages"]["dispatch"]["sv"] == "Larm {{akut}} {ref}: {link}"


def test_relative_fact_in_a_step_planned_once_per_incident():
    text = edited(
        "        category: coordination\n",
        "        category: coordination\n        when: {relative.is_child: true}\n",
    )
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "relative.is_child"),
        'phases[0].steps[0].when["relative.is_child"]',
    )
    assert issue.message.startswith(
        "'relative.is_child' is a fact about a relative, but this step is planned once per incident"
    )


def test_first_contact_anchor_needs_a_relative():
    text = edited("due: {after: activation, in: 30m}", "due: {after: first_contact, in: 30m}")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "after: first_contact, in: 30m"),
        "phases[0].steps[0].due.after",
    )
    assert issue.message.startswith("first_contact is known per relative")


def test_contacting_a_relative_needs_consent_given():
    text = edited("when: {relative.consent: given}", "when: {relative.consent: [given, unknown]}")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "when: {relative.consent: [given"),
        "phases[0].steps[1].when",
    )
    assert "needs `when: {relative.consent: given}`" in issue.message
    assert "måste samtycke inhämtas" in issue.message


def test_per_relative_step_without_any_condition_needs_consent():
    text = edited("        when: {relative.consent: given}\n", "")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (
        line_of(text, "for_each: relative"),
        "phases[0].steps[1].for_each",
    )


def test_coordination_steps_may_be_planned_before_consent():
    text = edited(
        "        when: {relative.consent: given}\n        title: {sv: Första kontakt, en: First contact}\n        role: outreach\n        category: outreach",
        "        when: {relative.consent: {not: given}}\n        title: {sv: Samtycke, en: Consent}\n        role: coordinator\n        category: coordination",
    )
    assert load(text).warnings == ()


def test_death_anchor_on_a_step_not_limited_to_deaths_is_a_warning():
    text = edited("due: {after: activation, in: 30m}", "due: {after: death, in: 30m}")
    (warning,) = load(text).warnings
    assert (warning.line, warning.path, warning.severity) == (
        line_of(text, "after: death, in: 30m"),
        "phases[0].steps[0].due.after",
        "warning",
    )


def test_follow_up_offset_listed_twice():
    text = edited("at: [1d, 1w, 1mo]", "at: [1d, 1w, 1 week]")
    issue = only_issue(text)
    assert (issue.line, issue.path) == (line_of(text, "1 week"), "follow_ups.at[2]")
    assert issue.message == "follow-up 1w is listed twice (also item 1); keep one"


def test_all_problems_are_reported_at_once_in_line_order():
    text = edited(
        "role: outreach\n        category: outreach", "role: outrech\n        category: outreach"
    )
    text = edited("agency: skatteverket", "agency: tax", text)
    text = edited("dispatch_ack_within: 10m", "dispatch_ack_within: 10", text)
    lines = [issue.line for issue in issues_of(text)]
    assert lines == sorted(lines) and len(lines) == 3


# --- Hash, directories, paths ------------------------------------------------------


def test_content_hash_ignores_comments_layout_and_key_order():
    original = load(fixture_text())
    reformatted = edited(
        "version: 1\ntitle: {sv: Testplan, en: Test plan}",
        "title:   # the name\n  en: Test plan\n  sv: Testplan\nversion: 1",
    )
    assert load(reformatted).content_hash == original.content_hash
    assert load(edited("in: 3mo}", "in: 4mo}")).content_hash != original.content_hash
    assert original.content_hash == content_hash(original.content)


def test_load_directory_refuses_two_files_with_one_id(tmp_path):
    (tmp_path / "a.yaml").write_text(fixture_text(), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(fixture_text(), encoding="utf-8")
    with pytest.raises(PlaybookError) as error:
        load_directory(tmp_path)
    (issue,) = error.value.issues
    assert (issue.file, issue.line, issue.path) == (str(tmp_path / "b.yaml"), 3, "id")
    assert "already used by" in issue.message


def test_load_directory_returns_every_playbook(tmp_path):
    (tmp_path / "a.yaml").write_text(fixture_text(), encoding="utf-8")
    (tmp_path / "b.yml").write_text(edited("id: test-minimal", "id: test-other"), encoding="utf-8")
    (tmp_path / "README.md").write_text("not a playbook", encoding="utf-8")
    assert [p.id for p in load_directory(tmp_path)] == ["test-minimal", "test-other"]


def test_validate_paths_covers_files_directories_and_missing_paths(tmp_path):
    issues = validate_paths([FIXTURES / "broken.yaml", tmp_path, tmp_path / "missing.yaml"])
    assert [issue.file for issue in issues] == [str(tmp_path)] + [
        str(FIXTURES / "broken.yaml")
    ] * 3 + [str(tmp_path / "missing.yaml")]
    assert issues[0].message == "no playbook files (*.yaml, *.yml) in this directory"
    assert issues[-1].message.startswith("cannot read the file")


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: {sv: Hjälp}".encode("latin-1"))
    assert validate_paths([path])[0].message == "the file is not UTF-8 text; save it as UTF-8"


def test_schema_is_a_valid_draft_2020_12_schema():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
