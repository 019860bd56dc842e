"""Passwords and recovery codes are hashed with Argon2id at the product's cost.

The other tests hash at the lowest cost to save time (tests/conftest.py,
`_quick_password_hashing`); these use the product's hashers."""

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY

from crisis.auth import passwords, twofactor

pytestmark = pytest.mark.real_password_hashing


def test_passwords_are_hashed_with_argon2id_at_the_rfc_9106_cost():
    hashed = passwords.hash_password("correct horse battery")
    used = extract_parameters(hashed)
    assert used.type is Type.ID
    assert (used.time_cost, used.memory_cost, used.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "wrong horse battery")
    assert not passwords.needs_rehash(hashed)


def test_a_hash_made_at_a_lower_cost_is_marked_for_rehashing():
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("correct horse battery")
    assert passwords.verify_password(cheap, "correct horse battery")
    assert passwords.needs_rehash(cheap)


def test_recovery_codes_are_hashed_with_argon2id():
    assert extract_parameters(twofactor._code_hasher.hash("abcd-efgh")).type is Type.ID
