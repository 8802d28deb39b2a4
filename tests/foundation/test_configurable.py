"""``tornadish.util.Configurable`` (what ``Resolver.configure`` rests on): Tornado 6.6.1's
``ConfigurableTest`` from ``util_test.py`` ported, every assertion kept. Only the helper
classes are renamed (``TestConfig1`` -> ``Config1``, ...) so that pytest does not try to
collect them as test classes.
"""

from __future__ import annotations

import unittest
from typing import cast

import pytest

from tornadish.util import Configurable


class ConfigBase(Configurable):
    @classmethod
    def configurable_base(cls):
        return ConfigBase

    @classmethod
    def configurable_default(cls):
        return Config1


class Config1(ConfigBase):
    def initialize(self, pos_arg=None, a=None):
        self.a = a
        self.pos_arg = pos_arg


class Config2(ConfigBase):
    def initialize(self, pos_arg=None, b=None):
        self.b = b
        self.pos_arg = pos_arg


class Config3(ConfigBase):
    # An implementation that is itself configurable.
    @classmethod
    def configurable_base(cls):
        return Config3

    @classmethod
    def configurable_default(cls):
        return Config3A


class Config3A(Config3):
    def initialize(self, a=None):
        self.a = a


class Config3B(Config3):
    def initialize(self, b=None):
        self.b = b


class ConfigurableTest(unittest.TestCase):
    def setUp(self):
        self.saved = ConfigBase._save_configuration()
        self.saved3 = Config3._save_configuration()

    def tearDown(self):
        ConfigBase._restore_configuration(self.saved)
        Config3._restore_configuration(self.saved3)

    def checkSubclasses(self):
        # However the base is configured, the subclasses can be built directly.
        self.assertIsInstance(Config1(), Config1)
        self.assertIsInstance(Config2(), Config2)

        obj = Config1(a=1)
        self.assertEqual(obj.a, 1)
        obj2 = Config2(b=2)
        self.assertEqual(obj2.b, 2)

    def test_default(self):
        obj = cast(Config1, ConfigBase())
        self.assertIsInstance(obj, Config1)
        self.assertIsNone(obj.a)

        obj = cast(Config1, ConfigBase(a=1))
        self.assertIsInstance(obj, Config1)
        self.assertEqual(obj.a, 1)

        self.checkSubclasses()

    def test_config_class(self):
        ConfigBase.configure(Config2)
        obj = cast(Config2, ConfigBase())
        self.assertIsInstance(obj, Config2)
        self.assertIsNone(obj.b)

        obj = cast(Config2, ConfigBase(b=2))
        self.assertIsInstance(obj, Config2)
        self.assertEqual(obj.b, 2)

        self.checkSubclasses()

    def test_config_str(self):
        ConfigBase.configure(f"{__name__}.Config2")
        obj = cast(Config2, ConfigBase())
        self.assertIsInstance(obj, Config2)
        self.assertIsNone(obj.b)

        obj = cast(Config2, ConfigBase(b=2))
        self.assertIsInstance(obj, Config2)
        self.assertEqual(obj.b, 2)

        self.checkSubclasses()

    def test_config_args(self):
        ConfigBase.configure(None, a=3)
        obj = cast(Config1, ConfigBase())
        self.assertIsInstance(obj, Config1)
        self.assertEqual(obj.a, 3)

        obj = cast(Config1, ConfigBase(42, a=4))
        self.assertIsInstance(obj, Config1)
        self.assertEqual(obj.a, 4)
        self.assertEqual(obj.pos_arg, 42)

        self.checkSubclasses()
        # args bound in configure don't apply when using the subclass directly
        obj = Config1()
        self.assertIsNone(obj.a)

    def test_config_class_args(self):
        ConfigBase.configure(Config2, b=5)
        obj = cast(Config2, ConfigBase())
        self.assertIsInstance(obj, Config2)
        self.assertEqual(obj.b, 5)

        obj = cast(Config2, ConfigBase(42, b=6))
        self.assertIsInstance(obj, Config2)
        self.assertEqual(obj.b, 6)
        self.assertEqual(obj.pos_arg, 42)

        self.checkSubclasses()
        # args bound in configure don't apply when using the subclass directly
        obj = Config2()
        self.assertIsNone(obj.b)

    def test_config_multi_level(self):
        ConfigBase.configure(Config3, a=1)
        obj = cast(Config3A, ConfigBase())
        self.assertIsInstance(obj, Config3A)
        self.assertEqual(obj.a, 1)

        ConfigBase.configure(Config3)
        Config3.configure(Config3B, b=2)
        obj2 = cast(Config3B, ConfigBase())
        self.assertIsInstance(obj2, Config3B)
        self.assertEqual(obj2.b, 2)

    def test_config_inner_level(self):
        # The inner level can be used even when the outer level doesn't point to it.
        obj = Config3()
        self.assertIsInstance(obj, Config3A)

        Config3.configure(Config3B)
        obj = Config3()
        self.assertIsInstance(obj, Config3B)

        # Configuring the base doesn't configure the inner.
        obj2 = ConfigBase()
        self.assertIsInstance(obj2, Config1)
        ConfigBase.configure(Config2)

        obj3 = ConfigBase()
        self.assertIsInstance(obj3, Config2)

        obj = Config3()
        self.assertIsInstance(obj, Config3B)


# -- our own ----------------------------------------------------------------------------


def test_configure_refuses_what_is_no_subclass() -> None:
    saved = ConfigBase._save_configuration()
    try:
        with pytest.raises(ValueError, match="Invalid subclass"):
            ConfigBase.configure(int)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="Invalid subclass"):
            Config3.configure(Config1)  # a sibling, not below Config3
        with pytest.raises(ImportError):
            ConfigBase.configure(f"{__name__}.NoSuchClass")
    finally:
        ConfigBase._restore_configuration(saved)


def test_a_configurable_without_its_hooks_says_so() -> None:
    class Bare(Configurable):
        pass

    with pytest.raises(NotImplementedError):
        Bare()
