"""How a plugin's start() is called (in a host or in process): with settings whenever it can take them."""

from nuvom.plugins.contracts import takes_arguments


class Plugins:
    def with_settings(self, settings): ...

    def with_extras(self, settings, **extras): ...

    def with_args(self, *args): ...

    def bare(self): ...


class CallableStart:
    def __call__(self, settings): ...


def test_start_gets_settings_exactly_when_it_can_take_them():
    plugin = Plugins()
    assert takes_arguments(plugin.with_settings) and takes_arguments(plugin.with_extras)
    assert takes_arguments(plugin.with_args)
    assert not takes_arguments(plugin.bare)
    assert takes_arguments(CallableStart())  # no __code__: inspect decides
    assert not takes_arguments(lambda: None) and takes_arguments(lambda settings: None)
