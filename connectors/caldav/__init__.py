"""CalDAV (Nextcloud, Fastmail, iCloud, Radicale, ...) over the `caldav` library."""

from connectors.caldav.connector import CalDavConnector, make_factory
from connectors.caldav.credentials import CalDavCredentials

__all__ = ["CalDavConnector", "CalDavCredentials", "make_factory"]
