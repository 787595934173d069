"""Tests of the webhook's pure core: selection, injection and the JSON patch."""
