-- A tag is its name (compared without regard to case), not its slug: `C#` and `C++` both
-- slugify to `c`, and used to become one tag. A new tag whose slug is taken gets the next
-- free one (`c-2`, `c-3`…, as WordPress does). Slugs stay unique: they are the tag's URL.
create unique index tags_name_key on tags (lower(name));
