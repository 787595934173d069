"""Building and checking the images without a container engine (``make images``); see build.sh."""
