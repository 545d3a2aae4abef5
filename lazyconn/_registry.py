"""A registry of records keyed by name and by code: the laws' and the rules'.

Weight laws (:mod:`lazyconn.laws`) and connection rules
(:mod:`lazyconn.rules`) are records with a public ``name`` and a ``code``
pinned in :class:`lazyconn.spec.KernelParams`; both are registered,
looked up by either key and listed the same way, and the errors name the
kind of record (``"weight law"``, ``"connection rule"``) and the keys that
are registered.
"""

from __future__ import annotations

import threading

__all__ = ["Registry"]


class Registry:
    """Records with unique ``name`` and ``code`` attributes, under one lock.

    Parameters
    ----------
    kind : str
        What a record is, for the messages (``"weight law"``).

    Attributes
    ----------
    lock : threading.RLock
        Held while records are added, removed or listed; a module that keeps
        state beside the records (the law classes) holds it around its own
        updates too.
    """

    def __init__(self, kind):
        self.kind = kind
        self.lock = threading.RLock()
        self._by_name = {}
        self._by_code = {}

    def check_free(self, record):
        """Refuse a record whose name or code is taken.

        Parameters
        ----------
        record : object
            Has ``name`` and ``code``.

        Raises
        ------
        ValueError
            If a registered record has that name or code.
        """
        with self.lock:
            if record.name in self._by_name or record.code in self._by_code:
                raise ValueError(
                    f"a {self.kind} named {record.name!r} or with code {record.code} is already registered; "
                    "pick a new name and code (or unregister the old one)"
                )

    def add(self, record):
        """Register ``record`` under its name and code.

        Parameters
        ----------
        record : object
            Has ``name`` and ``code``.

        Returns
        -------
        object
            ``record``.

        Raises
        ------
        ValueError
            If its name or code is taken (:meth:`check_free`).
        """
        with self.lock:
            self.check_free(record)
            self._by_name[record.name] = record
            self._by_code[record.code] = record
        return record

    def remove(self, name):
        """Unregister the record named ``name``.

        Parameters
        ----------
        name : str

        Returns
        -------
        object
            The removed record.

        Raises
        ------
        KeyError
            If no record has that name.
        """
        with self.lock:
            record = self.get(name)
            del self._by_name[name]
            self._by_code.pop(record.code, None)
        return record

    def get(self, name):
        """The record named ``name``.

        Parameters
        ----------
        name : str

        Returns
        -------
        object

        Raises
        ------
        KeyError
            If no record has that name; the message lists the names.
        """
        # Lookups take no lock (a dict read is atomic): products look their
        # law and rule up on every call.
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no {self.kind} named {name!r}; registered: {sorted(self._by_name)}") from None

    def by_code(self, code):
        """The record with code ``code``.

        Parameters
        ----------
        code : int

        Returns
        -------
        object

        Raises
        ------
        ValueError
            If no record has that code; the message lists the codes.
        """
        try:
            return self._by_code[int(code)]
        except KeyError:
            raise ValueError(f"unknown {self.kind} code {code}; registered: {sorted(self._by_code)}") from None

    def records(self):
        """Every record, by code.

        Returns
        -------
        tuple
        """
        with self.lock:
            return tuple(self._by_code[code] for code in sorted(self._by_code))
