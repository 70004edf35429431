"""errors: every message is one line, cut to MAX_MESSAGE, and carries no secret a URL may hold."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cloudroutes import errors
from cloudroutes.errors import CloudroutesError, ConfigError, Transient, redact

# What a password or a token can be made of in a URL (no separator the URL itself uses).
secrets = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=4, max_size=40)
users = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12)


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        pytest.param(
            'Could not connect to the endpoint URL: "http://admin:S3CRET@127.0.0.1:9/"',
            'Could not connect to the endpoint URL: "http://***@127.0.0.1:9/"',
            id="user-and-password",
        ),
        pytest.param("https://token@example.com/x", "https://***@example.com/x", id="user-alone-is-a-token"),
        pytest.param(
            "GET https://h/p?Action=DescribeVpcs&X-Amz-Signature=abc&X-Amz-Security-Token=tok&Version=2016",
            "GET https://h/p?Action=DescribeVpcs&X-Amz-Signature=***&X-Amz-Security-Token=***&Version=2016",
            id="presigned-query",
        ),
        pytest.param("http://h/?api_key=k1&token=t1#top", "http://h/?api_key=***&token=***#top", id="key-and-token"),
        pytest.param("https://h/p?sig=abc&password=pw", "https://h/p?sig=***&password=***", id="sig-and-password"),
        # What `-v` shows of a request in botocore's and urllib3's debug logs.
        pytest.param(
            "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKID/x, Signature=0a1b2c3d4e5f6071829', "
            "'X-Amz-Security-Token': b'FQoGZXIvYXdz', 'Content-Length': '42'}",
            "headers={'Authorization': b'***', 'X-Amz-Security-Token': b'***', 'Content-Length': '42'}",
            id="sdk-request-headers",
        ),
        pytest.param(
            "CanonicalRequest:\nPOST\n/\n\nhost:ec2\nx-amz-security-token:FQoGZXIvYXdz\n",
            "CanonicalRequest:\nPOST\n/\n\nhost:ec2\nx-amz-security-token:***\n",
            id="canonical-request-line",
        ),
        pytest.param("Authorization: Bearer ya29.a0AfH6SMB", "Authorization: ***", id="bearer-header"),
        pytest.param("token Bearer ya29.a0AfH6SMB refused", "token Bearer *** refused", id="bearer-anywhere"),
        pytest.param(
            "string to sign ..., Signature=0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "string to sign ..., Signature=***",
            id="sigv4-signature",
        ),
        pytest.param("Signature:\n0a1b2c3d4e5f60718293a4b5c6d7e8f9", "Signature:\n***", id="botocore-auth-debug"),
    ],
)
def test_secrets_in_urls_are_redacted(text, redacted):
    assert redact(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "vpc vpc-0abc: cluster CIDR 10.244.0.0/16 overlaps 10.0.0.0/8",
        "--set expects section.key=value, got 'x'",
        "route table rtb-1 is not in VPC vpc-1 (see https://docs.aws.amazon.com/vpc/latest/userguide/?tab=routes)",
        "user@example.com has no access",
    ],
)
def test_text_without_secrets_is_left_alone(text):
    assert redact(text) == text


@given(user=users, password=secrets, token=secrets)
def test_no_password_or_token_survives_in_any_error(user, password, token):
    url = f"https://{user}:{password}@ec2.example.com:8443/path?Action=x&token={token}"
    # A "secret" that is also a piece of the host or path (token="exam") shows there, unredacted and rightly.
    assume(
        all(
            s not in "bad endpoint connection problem: https://ec2.example.com:8443/path?Action=x"
            for s in (password, token)
        )
    )
    for error in (ConfigError(f"bad endpoint {url}"), Transient(f"connection problem: {url}")):
        assert password not in error.message and token not in error.message
        assert "ec2.example.com:8443" in error.message, "the host stays: it is what a user needs to see"


def test_a_secret_cut_in_half_by_the_length_limit_is_still_redacted():
    url = "http://admin:S3CRETS3CRETS3CRET@h/"
    message = "x" * (errors.MAX_MESSAGE - 20) + url
    assert "S3CRET" not in CloudroutesError(message).message


def test_a_message_is_one_line_and_cut_to_the_limit():
    message = CloudroutesError("first\nsecond\t" + "y" * 1000).message
    assert "\n" not in message and len(message) == errors.MAX_MESSAGE and message.endswith("...")


def drawn_tree() -> dict[str, str]:
    """child -> parent, as errors.py's docstring draws the tree (the depth is the column of the name)."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        if "── " in line:
            column = line.index("── ") + 3
        elif line.strip() == "CloudroutesError":
            column = line.index("C")
        else:
            continue
        name = line[column:].split()[0]
        while stack and stack[-1][0] >= column:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((column, name))
    return parents


def test_the_tree_in_the_docstring_is_the_tree_in_the_code():
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, CloudroutesError) and cls is not CloudroutesError
    }
    assert drawn_tree() == {name: cls.__mro__[1].__name__ for name, cls in classes.items()}
