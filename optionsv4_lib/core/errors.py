"""The exception tree: every error the library raises on purpose derives from OptionsV4Error."""


class OptionsV4Error(Exception):
    """Base of all OptionsV4 errors."""


class InputError(OptionsV4Error, ValueError):
    """A public function got an impossible input; the message names the field."""


class DataError(OptionsV4Error):
    """Market or reference data is missing, stale or inconsistent."""


class BrokerError(OptionsV4Error):
    """The broker refused or failed a request."""


class RateLimited(BrokerError):
    """The broker asked us to slow down."""


class AuthError(BrokerError):
    """Credentials are missing, invalid or expired."""
