-- Comment edit tokens are now made with a key kept outside the database (a file in the data
-- directory, mode 0600): a copy of the database must not be enough to forge them. The old
-- key goes; tokens it made (at most 15 minutes old) stop working.
delete from gazette_meta where key = 'comment_edit_secret';
