"""Errors raised while finding, downloading or reading a dataset."""


class DatasetError(Exception):
    """A dataset could not be made available.

    The message is meant for a person: it names the dataset and the file that is
    wrong, and says what to do about it (place the files somewhere, connect to the
    network, or choose the built-in sample).
    """


class DownloadCancelled(DatasetError):
    """The person cancelled a download.

    A subclass so a window can stay quiet about a cancel it asked for while still
    treating it like any other failure to get the data.
    """
