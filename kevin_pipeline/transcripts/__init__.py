"""Transcripts of videos: caption files (.vtt, .srt, yt-dlp .json3, plain .txt) and YouTube's own
captions behind a small port. Adapters: they read files or the network and hand the extractor a
`Transcript` of timed segments."""
