from sluice.cache.keys import make_key, normalise
from sluice.types import ChatMessage, GenParams


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def test_normalise_folds_case_width_and_space() -> None:
    assert normalise("  How   do I\tDELETE a ﬁle?\n") == "how do i delete a file?"


def test_exact_key_ignores_spacing_and_case_but_not_words() -> None:
    a = make_key("ns", (user("Delete a file"),), GenParams())
    b = make_key("ns", (user("  delete a FILE "),), GenParams())
    c = make_key("ns", (user("Delete a directory"),), GenParams())
    assert a.exact == b.exact != c.exact
    assert a.scope == c.scope


def test_follow_up_in_different_conversations_has_different_scope() -> None:
    follow_up = user("Can you explain more?")
    first = (user("What is TCP?"), ChatMessage("assistant", "A protocol."), follow_up)
    second = (user("What is DNS?"), ChatMessage("assistant", "A naming system."), follow_up)
    assert make_key("ns", first, GenParams()).scope != make_key("ns", second, GenParams()).scope


def test_system_prompt_and_params_are_part_of_the_scope() -> None:
    q = user("Summarise this")
    base = make_key("ns", (q,), GenParams())
    assert make_key("ns", (ChatMessage("system", "Be terse"), q), GenParams()).scope != base.scope
    assert make_key("ns", (q,), GenParams(max_tokens=10)).scope != base.scope
    assert make_key("ns", (q,), GenParams(json_schema='{"type":"object"}')).scope != base.scope


def test_namespace_is_kept_out_of_the_digest_but_in_the_key() -> None:
    a = make_key("tenant-a", (user("hi"),), GenParams())
    b = make_key("tenant-b", (user("hi"),), GenParams())
    assert (a.namespace, a.exact) != (b.namespace, b.exact)
