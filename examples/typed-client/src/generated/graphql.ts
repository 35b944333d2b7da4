import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** A point in time as an RFC 3339 date-time string, such as `2013-08-22T09:30:00Z`. Inputs may carry any offset and are converted to UTC; answers are always in UTC (`+00:00`). */
  DateTime: { input: string; output: string; }
  WebhookEventType: { input: any; output: any; }
};

export type AddCommentInput = {
  /** Never shown. */
  authorEmail?: InputMaybe<Scalars['String']['input']>;
  /** 1 to 80 characters. */
  authorName: Scalars['String']['input'];
  /** An http(s) address, shown with the name. */
  authorUrl?: InputMaybe<Scalars['String']['input']>;
  /** Plain text or limited Markdown, 1 to 10,000 characters. */
  body: Scalars['String']['input'];
  /**
   * Makes the mutation safe to retry: the same id on the same post within 24 hours
   * returns the first comment instead of making another. Use a fresh random id (a UUID)
   * per comment.
   */
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  /** The comment this one replies to. */
  parentId?: InputMaybe<Scalars['ID']['input']>;
  postId: Scalars['ID']['input'];
};

export type AddCommentPayload = {
  __typename?: 'AddCommentPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  comment: Comment;
  /** The reply was deeper than allowed and was attached at the deepest level instead. */
  depthCapped: Scalars['Boolean']['output'];
  /** Lets the commenter edit or delete the comment for 15 minutes; keep it private. */
  editToken?: Maybe<Scalars['String']['output']>;
};

export type ApproveCommentPayload = {
  __typename?: 'ApproveCommentPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  comment: Comment;
};

export type Author = Node & {
  __typename?: 'Author';
  bio: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  /** The author's published posts, newest first. */
  posts: PostConnection;
  slug: Scalars['String']['output'];
  /** The author's own website. */
  url?: Maybe<Scalars['String']['output']>;
};


export type AuthorPostsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type AuthorConnection = {
  __typename?: 'AuthorConnection';
  edges: Array<AuthorEdge>;
  /** The nodes of `edges`, for clients that need no cursors. */
  nodes: Array<Author>;
  pageInfo: PageInfo;
  /** How many items the whole list holds, across all pages. */
  totalCount: Scalars['Int']['output'];
};

export type AuthorEdge = {
  __typename?: 'AuthorEdge';
  /** Opaque; pass it as `after` or `before`. */
  cursor: Scalars['String']['output'];
  node: Author;
};

export type Channel = Node & {
  __typename?: 'Channel';
  /** Whether summaries are written for it (only admins see disabled channels). */
  enabled: Scalars['Boolean']['output'];
  id: Scalars['ID']['output'];
  kind: ChannelKind;
  /** The most a text may measure on this channel. */
  limit: Scalars['Int']['output'];
  name: Scalars['String']['output'];
  /** The channel's name in URLs: `/syndication/{slug}.json`. */
  slug: Scalars['String']['output'];
  /** The ready-to-post summaries, as JSON and as plain text. */
  syndicationUrls: Array<Scalars['String']['output']>;
  /**
   * The summary template; null for the kind's default (and for viewers who are not
   * admins: templates are settings).
   */
  template?: Maybe<Scalars['String']['output']>;
  /** The organisation's page on the channel. */
  url: Scalars['String']['output'];
};

export type ChannelDigest = {
  __typename?: 'ChannelDigest';
  channel: Channel;
  /**
   * New published comments per post, most discussed first (on posts the viewer may
   * still read): the `first` posts (20 when not given, at most 100).
   */
  feedback: Array<DigestFeedback>;
  generatedAt: Scalars['DateTime']['output'];
  /** The text's length under the channel's own counting rule. */
  length: Scalars['Int']['output'];
  limit: Scalars['Int']['output'];
  periodEnd: Scalars['DateTime']['output'];
  periodStart: Scalars['DateTime']['output'];
  /**
   * Posts published in the period, newest first (those the viewer may still read): the
   * `first` of them (20 when not given, at most 100).
   */
  publishedPosts: Array<Post>;
  /** The text for the channel. */
  text: Scalars['String']['output'];
  /** Whether something was shortened or left out to fit. */
  truncated: Scalars['Boolean']['output'];
};


export type ChannelDigestFeedbackArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type ChannelDigestPublishedPostsArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type ChannelKind =
  | 'BLOG'
  | 'FACEBOOK'
  | 'FLICKR'
  | 'LINKEDIN'
  | 'MASTODON'
  | 'OTHER'
  | 'PODCAST'
  | 'RSS'
  | 'TWITTER'
  | 'YOUTUBE';

export type Comment = Node & {
  __typename?: 'Comment';
  /** Null for deleted comments. */
  author?: Maybe<CommentAuthor>;
  /** The text as written (plain text or limited Markdown); null for deleted comments. */
  body?: Maybe<Scalars['String']['output']>;
  /**
   * `body` as sanitised HTML; links carry `rel="nofollow ugc noopener"`. Null for
   * deleted comments.
   */
  bodyHtml?: Maybe<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  /** 0 for top-level comments, 1 for their replies, and so on. */
  depth: Scalars['Int']['output'];
  id: Scalars['ID']['output'];
  /**
   * The comment this one replies to; null for top-level comments (and for a parent the
   * reader may not see).
   */
  parent?: Maybe<Comment>;
  post: Post;
  /** Direct replies, oldest first. */
  replies: CommentConnection;
  /** Published direct replies. */
  replyCount: Scalars['Int']['output'];
  status: CommentStatus;
  updatedAt: Scalars['DateTime']['output'];
};


export type CommentRepliesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

/** Who wrote a comment, as they gave it. */
export type CommentAuthor = {
  __typename?: 'CommentAuthor';
  name: Scalars['String']['output'];
  /** Their website. */
  url?: Maybe<Scalars['String']['output']>;
};

export type CommentConnection = {
  __typename?: 'CommentConnection';
  edges: Array<CommentEdge>;
  /** The nodes of `edges`, for clients that need no cursors. */
  nodes: Array<Comment>;
  pageInfo: PageInfo;
  /** How many items the whole list holds, across all pages. */
  totalCount: Scalars['Int']['output'];
};

export type CommentEdge = {
  __typename?: 'CommentEdge';
  /** Opaque; pass it as `after` or `before`. */
  cursor: Scalars['String']['output'];
  node: Comment;
};

/** The order of a post's top-level comments. */
export type CommentOrder =
  | 'NEWEST'
  | 'OLDEST';

export type CommentStatus =
  /** A tombstone: kept while it has replies, without its text or author. */
  | 'DELETED'
  /** Held for a moderator. */
  | 'PENDING'
  | 'PUBLISHED'
  | 'SPAM';

export type CreateChannelInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  enabled?: Scalars['Boolean']['input'];
  kind: ChannelKind;
  name: Scalars['String']['input'];
  /** Made from the name when not given. */
  slug?: InputMaybe<Scalars['String']['input']>;
  /** With placeholders {title} {excerpt} {link} {hashtags} {author} {date}. */
  template?: InputMaybe<Scalars['String']['input']>;
  /** The organisation's page on the channel (http or https). */
  url: Scalars['String']['input'];
};

export type CreateChannelPayload = {
  __typename?: 'CreateChannelPayload';
  channel: Channel;
  clientMutationId?: Maybe<Scalars['String']['output']>;
};

export type CreatePostInput = {
  /** Admins only: write on this author's behalf. */
  authorId?: InputMaybe<Scalars['ID']['input']>;
  /** Markdown. */
  body?: Scalars['String']['input'];
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  commentsOpen?: Scalars['Boolean']['input'];
  /** A summary; without one, the start of the body is used. */
  excerpt?: InputMaybe<Scalars['String']['input']>;
  /**
   * For `PUBLISHED`: the publication date (default now; not in the future). For
   * `SCHEDULED`: when to publish (required, in the future).
   */
  publishedAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** Without one, the slug is made from the title (and made unique). */
  slug?: InputMaybe<Scalars['String']['input']>;
  /**
   * `DRAFT` (the default), `PUBLISHED`, or `SCHEDULED` (published by the worker at
   * `publishedAt`).
   */
  status?: PostStatus;
  /** Tag names; new tags are created. */
  tags?: Array<Scalars['String']['input']>;
  title: Scalars['String']['input'];
};

export type CreatePostPayload = {
  __typename?: 'CreatePostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  post: Post;
};

/** `createWebhook`'s input. */
export type CreateWebhookInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  events: Array<Scalars['WebhookEventType']['input']>;
  /**
   * Where events are posted: https, public (see `--webhooks-allow-http`,
   * `--webhooks-allow-private`).
   */
  url: Scalars['String']['input'];
};

export type DeleteChannelInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteChannelPayload = {
  __typename?: 'DeleteChannelPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  deletedChannelId: Scalars['ID']['output'];
};

export type DeleteCommentInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  /** The commenter's token from `addComment`; moderators send their API token instead. */
  editToken?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
};

export type DeleteCommentPayload = {
  __typename?: 'DeleteCommentPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  /** The tombstone left in the thread (shown only while it has replies). */
  comment: Comment;
  deletedCommentId: Scalars['ID']['output'];
};

/** `deleteFederatedReply`'s input. */
export type DeleteFederatedReplyInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  /** The reply's `databaseId`. */
  id: Scalars['ID']['input'];
};

export type DeletePostPayload = {
  __typename?: 'DeletePostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  /** The id the post had. */
  deletedPostId: Scalars['ID']['output'];
  /** The post as it was before deletion. */
  post: Post;
};

/** What `deleteWebhook` removed. */
export type DeleteWebhookPayload = {
  __typename?: 'DeleteWebhookPayload';
  deletedWebhookId: Scalars['ID']['output'];
};

export type DigestFeedback = {
  __typename?: 'DigestFeedback';
  newComments: Scalars['Int']['output'];
  post: Post;
};

export type EditCommentInput = {
  body: Scalars['String']['input'];
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  /** The token `addComment` returned. */
  editToken: Scalars['String']['input'];
  id: Scalars['ID']['input'];
};

export type EditCommentPayload = {
  __typename?: 'EditCommentPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  comment: Comment;
};

/** Names a fediverse actor by its id (its URL, as in `FederationFollower.actor`). */
export type FederationActorInput = {
  actor: Scalars['String']['input'];
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
};

/** A blocked actor or instance. */
export type FederationBlock = {
  __typename?: 'FederationBlock';
  /** `actor` or `instance`. */
  kind: Scalars['String']['output'];
  since: Scalars['DateTime']['output'];
  /** The actor's id, or the instance's host. */
  value: Scalars['String']['output'];
};

/** What a block mutation made. */
export type FederationBlockPayload = {
  __typename?: 'FederationBlockPayload';
  block: FederationBlock;
  clientMutationId?: Maybe<Scalars['String']['output']>;
};

/** Whether a federation mutation changed anything (false: there was nothing to change). */
export type FederationChangePayload = {
  __typename?: 'FederationChangePayload';
  changed: Scalars['Boolean']['output'];
  clientMutationId?: Maybe<Scalars['String']['output']>;
};

/** An activity sent (or being sent) to a remote inbox. */
export type FederationDelivery = {
  __typename?: 'FederationDelivery';
  /** `Create`, `Update`, `Delete`, `Accept`, `Announce`. */
  activityType: Scalars['String']['output'];
  attempts: Scalars['Int']['output'];
  inbox: Scalars['String']['output'];
  lastError?: Maybe<Scalars['String']['output']>;
  lastResponseCode?: Maybe<Scalars['Int']['output']>;
  /** `pending`, `delivered` or `failed`. */
  status: Scalars['String']['output'];
};

/** A fediverse account that follows the blog. */
export type FederationFollower = {
  __typename?: 'FederationFollower';
  /** The actor's id (its URL). */
  actor: Scalars['String']['output'];
  /** Its instance. */
  host: Scalars['String']['output'];
  name: Scalars['String']['output'];
  since: Scalars['DateTime']['output'];
  /** `accepted`, or `pending` (waiting for `approveFederationFollower`). */
  state: Scalars['String']['output'];
};

/** An account the blog follows. */
export type FederationFollowing = {
  __typename?: 'FederationFollowing';
  actor: Scalars['String']['output'];
  name: Scalars['String']['output'];
  since: Scalars['DateTime']['output'];
  /** `pending` until its server accepts, then `accepted`. */
  state: Scalars['String']['output'];
};

/**
 * Names a fediverse instance by its host (`spam.example`; a URL or an `@user@host`
 * handle names its host).
 */
export type FederationInstanceInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  host: Scalars['String']['input'];
};

/** A reply the blog sent to a post elsewhere. */
export type FederationReply = {
  __typename?: 'FederationReply';
  authorName: Scalars['String']['output'];
  createdAt: Scalars['DateTime']['output'];
  /** Its number, for `deleteFederatedReply`. */
  databaseId: Scalars['Int']['output'];
  /** When it was withdrawn (null while it stands). */
  deletedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Its object id (a URL on this site). */
  id: Scalars['String']['output'];
  inReplyTo: Scalars['String']['output'];
};

/** A feed the worker generated and the API serves. */
export type Feed = {
  __typename?: 'Feed';
  format: FeedFormat;
  /** When its content last changed. */
  generatedAt: Scalars['DateTime']['output'];
  /** Items (posts or comments) in the feed. */
  itemCount: Scalars['Int']['output'];
  /** What the feed is served as, e.g. `application/rss+xml; charset=utf-8`. */
  mediaType: Scalars['String']['output'];
  /** Where readers subscribe: an absolute URL. */
  url: Scalars['String']['output'];
};

export type FeedFormat =
  | 'ATOM'
  /** JSON Feed 1.1. */
  | 'JSON_FEED'
  | 'RSS';

/** What `followFederatedActor` made. */
export type FollowFederatedActorPayload = {
  __typename?: 'FollowFederatedActorPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  following: FederationFollowing;
};

export type MarkCommentSpamPayload = {
  __typename?: 'MarkCommentSpamPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  comment: Comment;
};

export type ModerateCommentInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
};

export type Mutation = {
  __typename?: 'Mutation';
  /**
   * Posts a comment or a reply; no token needed. Depending on moderation it is published
   * at once or held (`status: PENDING`).
   */
  addComment?: Maybe<AddCommentPayload>;
  /** Publishes a held (or spam-marked) comment. For moderators. */
  approveComment?: Maybe<ApproveCommentPayload>;
  /**
   * Accepts a follow waiting for approval (`--federation-approve-followers`), and tells
   * the follower. Admins only.
   */
  approveFederationFollower: FederationChangePayload;
  /**
   * Blocks a fediverse actor (by its id, a URL): its follow ends, its replies are
   * deleted, and what it sends is refused. Admins only.
   */
  blockFederatedActor: FederationBlockPayload;
  /**
   * Blocks a whole instance (by its host, e.g. `spam.example`): its followers are
   * removed and what it sends is refused. Admins only.
   */
  blockFederatedInstance: FederationBlockPayload;
  /** Adds a channel. Admins only. */
  createChannel?: Maybe<CreateChannelPayload>;
  /** Writes a new post (a draft unless `status: PUBLISHED`). Needs a token. */
  createPost?: Maybe<CreatePostPayload>;
  /**
   * Registers an endpoint for some event types; returns its signing secret, once.
   * Admins only.
   */
  createWebhook: WebhookWithSecret;
  /** Removes a channel and everything written for it. Admins only. */
  deleteChannel?: Maybe<DeleteChannelPayload>;
  /**
   * Deletes a comment: its commenter with the edit token (within 15 minutes), or a
   * moderator (an admin, or the post's author).
   */
  deleteComment?: Maybe<DeleteCommentPayload>;
  /**
   * Withdraws a reply sent to a post elsewhere: a `Delete` goes where it went. Its
   * writer, or an admin.
   */
  deleteFederatedReply: ReplyToFederatedPostPayload;
  /** Deletes a post and its comments, for good. */
  deletePost?: Maybe<DeletePostPayload>;
  /** Removes an endpoint and its pending deliveries. Admins only. */
  deleteWebhook: DeleteWebhookPayload;
  /** Stops deliveries to an endpoint (they wait until it is enabled). Admins only. */
  disableWebhook: Webhook;
  /** Changes a comment's text, with its edit token, within 15 minutes of posting. */
  editComment?: Maybe<EditCommentPayload>;
  /** Resumes deliveries to an endpoint, and forgets its failures. Admins only. */
  enableWebhook: Webhook;
  /**
   * Follows an account elsewhere (another Gazette blog, a Mastodon account) by its
   * ActivityPub id; `pending` until its server accepts. Admins only.
   */
  followFederatedActor: FollowFederatedActorPayload;
  /** Hides a comment as spam. For moderators. */
  markCommentSpam?: Maybe<MarkCommentSpamPayload>;
  /** Publishes a post. */
  publishPost?: Maybe<PublishPostPayload>;
  /**
   * Delivers an event to an endpoint again, at once, with the same `webhook-id`.
   * Admins only.
   */
  redeliverWebhookEvent: WebhookDelivery;
  /** Removes a follower: it gets no more posts. Admins only. */
  removeFederationFollower: FederationChangePayload;
  /**
   * Replies to a post elsewhere on the fediverse (on another Gazette blog it becomes a
   * comment under the post): sent as the blog actor, headed by the writer's name.
   * Authors and admins.
   */
  replyToFederatedPost: ReplyToFederatedPostPayload;
  /**
   * A new signing secret, returned once. For 24 hours deliveries are signed with the
   * old and the new secret (two signatures in `webhook-signature`), so receivers can
   * switch without missing one. Admins only.
   */
  rotateWebhookSecret: WebhookWithSecret;
  /**
   * Schedules a draft, or reschedules a scheduled post: the worker publishes it at
   * `publishAt` (within seconds), with everything a manual publish does (feeds,
   * channel texts, `postPublished`). Until then only its author and admins see it.
   * Authors schedule their own posts.
   */
  schedulePost?: Maybe<SchedulePostPayload>;
  /** Sends a `webhook.test` event to this endpoint only. Admins only. */
  sendTestWebhook: WebhookDelivery;
  /** Lifts an actor's block. Admins only. */
  unblockFederatedActor: FederationChangePayload;
  /** Lifts an instance's block. Admins only. */
  unblockFederatedInstance: FederationChangePayload;
  /** Stops following an account (its server is told). Admins only. */
  unfollowFederatedActor: FederationChangePayload;
  /** Makes a published post a draft again. */
  unpublishPost?: Maybe<UnpublishPostPayload>;
  /**
   * Takes a scheduled post back to a draft (it keeps its planned time until it is
   * scheduled or published again).
   */
  unschedulePost?: Maybe<UnschedulePostPayload>;
  /** Changes a channel; disabling one removes its summaries. Admins only. */
  updateChannel?: Maybe<UpdateChannelPayload>;
  /** Changes a post; fields left out stay as they are. Authors change their own posts. */
  updatePost?: Maybe<UpdatePostPayload>;
  /** Changes what is given of an endpoint. Admins only. */
  updateWebhook: Webhook;
};


export type MutationAddCommentArgs = {
  input: AddCommentInput;
};


export type MutationApproveCommentArgs = {
  input: ModerateCommentInput;
};


export type MutationApproveFederationFollowerArgs = {
  input: FederationActorInput;
};


export type MutationBlockFederatedActorArgs = {
  input: FederationActorInput;
};


export type MutationBlockFederatedInstanceArgs = {
  input: FederationInstanceInput;
};


export type MutationCreateChannelArgs = {
  input: CreateChannelInput;
};


export type MutationCreatePostArgs = {
  input: CreatePostInput;
};


export type MutationCreateWebhookArgs = {
  description?: InputMaybe<Scalars['String']['input']>;
  events?: InputMaybe<Array<Scalars['WebhookEventType']['input']>>;
  input?: InputMaybe<CreateWebhookInput>;
  url?: InputMaybe<Scalars['String']['input']>;
};


export type MutationDeleteChannelArgs = {
  input: DeleteChannelInput;
};


export type MutationDeleteCommentArgs = {
  input: DeleteCommentInput;
};


export type MutationDeleteFederatedReplyArgs = {
  input: DeleteFederatedReplyInput;
};


export type MutationDeletePostArgs = {
  input: PostIdInput;
};


export type MutationDeleteWebhookArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<WebhookIdInput>;
};


export type MutationDisableWebhookArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<WebhookIdInput>;
};


export type MutationEditCommentArgs = {
  input: EditCommentInput;
};


export type MutationEnableWebhookArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<WebhookIdInput>;
};


export type MutationFollowFederatedActorArgs = {
  input: FederationActorInput;
};


export type MutationMarkCommentSpamArgs = {
  input: ModerateCommentInput;
};


export type MutationPublishPostArgs = {
  input: PublishPostInput;
};


export type MutationRedeliverWebhookEventArgs = {
  eventId?: InputMaybe<Scalars['String']['input']>;
  input?: InputMaybe<RedeliverWebhookEventInput>;
  webhookId?: InputMaybe<Scalars['ID']['input']>;
};


export type MutationRemoveFederationFollowerArgs = {
  input: FederationActorInput;
};


export type MutationReplyToFederatedPostArgs = {
  input: ReplyToFederatedPostInput;
};


export type MutationRotateWebhookSecretArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<WebhookIdInput>;
};


export type MutationSchedulePostArgs = {
  input: SchedulePostInput;
};


export type MutationSendTestWebhookArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<WebhookIdInput>;
};


export type MutationUnblockFederatedActorArgs = {
  input: FederationActorInput;
};


export type MutationUnblockFederatedInstanceArgs = {
  input: FederationInstanceInput;
};


export type MutationUnfollowFederatedActorArgs = {
  input: FederationActorInput;
};


export type MutationUnpublishPostArgs = {
  input: PostIdInput;
};


export type MutationUnschedulePostArgs = {
  input: PostIdInput;
};


export type MutationUpdateChannelArgs = {
  input: UpdateChannelInput;
};


export type MutationUpdatePostArgs = {
  input: UpdatePostInput;
};


export type MutationUpdateWebhookArgs = {
  description?: InputMaybe<Scalars['String']['input']>;
  events?: InputMaybe<Array<Scalars['WebhookEventType']['input']>>;
  id?: InputMaybe<Scalars['ID']['input']>;
  input?: InputMaybe<UpdateWebhookInput>;
  url?: InputMaybe<Scalars['String']['input']>;
};

/** An object with a global id. */
export type Node = {
  /** Globally unique; pass it to `node`. */
  id: Scalars['ID']['output'];
};

export type OrderDirection =
  | 'ASC'
  | 'DESC';

/** Where a page sits in its list. */
export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
  hasPreviousPage: Scalars['Boolean']['output'];
  startCursor?: Maybe<Scalars['String']['output']>;
};

export type Post = Node & {
  __typename?: 'Post';
  author: Author;
  /** The Markdown source. */
  body: Scalars['String']['output'];
  /** `body` rendered to sanitised HTML (when the post was written). */
  bodyHtml: Scalars['String']['output'];
  /** Published comments on the post. */
  commentCount: Scalars['Int']['output'];
  /** The top-level comments (replies hang under them), oldest first by default. */
  comments: CommentConnection;
  /** The RSS feed of the post's comments. */
  commentsFeedUrl: Scalars['String']['output'];
  /** Whether readers may comment. */
  commentsOpen: Scalars['Boolean']['output'];
  createdAt: Scalars['DateTime']['output'];
  /** A plain-text summary: the author's, or the start of the body. */
  excerpt: Scalars['String']['output'];
  /** Boosts (`Announce`s) of the post from the fediverse (with `--federation`). */
  fediverseBoosts: Scalars['Int']['output'];
  /** Likes of the post from the fediverse (with `--federation`). */
  fediverseLikes: Scalars['Int']['output'];
  id: Scalars['ID']['output'];
  /** When the post was (first) published; null for drafts never published. */
  publishedAt?: Maybe<Scalars['DateTime']['output']>;
  /** The post's name in URLs; stable when the title changes. */
  slug: Scalars['String']['output'];
  status: PostStatus;
  /** The post's tags, in the order the author gave them. */
  tags: Array<Tag>;
  /**
   * The whole discussion flattened in display order (depth-first, oldest first), each
   * comment with its `depth`: one statement per page, however deep the thread.
   */
  thread: CommentConnection;
  title: Scalars['String']['output'];
  updatedAt: Scalars['DateTime']['output'];
  /** Where the post is read: an absolute URL. */
  url: Scalars['String']['output'];
};


export type PostCommentsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
  orderBy?: CommentOrder;
};


export type PostThreadArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type PostConnection = {
  __typename?: 'PostConnection';
  edges: Array<PostEdge>;
  /** The nodes of `edges`, for clients that need no cursors. */
  nodes: Array<Post>;
  pageInfo: PageInfo;
  /** How many items the whole list holds, across all pages. */
  totalCount: Scalars['Int']['output'];
};

export type PostEdge = {
  __typename?: 'PostEdge';
  /** Opaque; pass it as `after` or `before`. */
  cursor: Scalars['String']['output'];
  node: Post;
};

/** Which posts to list. Every condition given must hold. */
export type PostFilter = {
  /** Posts by the author of this id. */
  author?: InputMaybe<Scalars['ID']['input']>;
  /** Posts by the author of this slug. */
  authorSlug?: InputMaybe<Scalars['String']['input']>;
  /** Published strictly after this instant. */
  publishedAfter?: InputMaybe<Scalars['DateTime']['input']>;
  /** Published strictly before this instant. */
  publishedBefore?: InputMaybe<Scalars['DateTime']['input']>;
  /** Full-text search over title and body: words, "quoted phrases", `-excluded`, `or`. */
  search?: InputMaybe<Scalars['String']['input']>;
  /**
   * `PUBLISHED` (the default) or `DRAFT`: drafts need a token; authors see their own,
   * admins all.
   */
  status?: InputMaybe<PostStatus>;
  /** Posts with the tag of this slug. */
  tag?: InputMaybe<Scalars['String']['input']>;
};

export type PostIdInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
};

/** How to order posts; the default is newest published first. */
export type PostOrder = {
  direction?: OrderDirection;
  field: PostOrderField;
};

export type PostOrderField =
  /** Publication date (creation date for drafts never published). */
  | 'PUBLISHED_AT'
  | 'TITLE'
  | 'UPDATED_AT';

export type PostStatus =
  | 'DRAFT'
  | 'PUBLISHED'
  /** Waiting to be published at its `publishedAt` (seen only by its author and admins). */
  | 'SCHEDULED';

export type PublishPostInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
  /** Default: when the post was first published, or now. */
  publishedAt?: InputMaybe<Scalars['DateTime']['input']>;
};

export type PublishPostPayload = {
  __typename?: 'PublishPostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  post: Post;
};

export type Query = {
  __typename?: 'Query';
  /**
   * An author by their global `id` or their `slug` (give one); null when there is none, or
   * when they have published nothing the viewer may read.
   */
  author?: Maybe<Author>;
  /** The authors you may see (for anyone: those who have published), by name. */
  authors: AuthorConnection;
  /**
   * A channel by its global `id` or its `slug` (give one); null when there is none (or
   * it is disabled and the viewer is not an admin).
   */
  channel?: Maybe<Channel>;
  /**
   * The channel's digest of the current period; null before the worker wrote one (or
   * when the channel is disabled).
   */
  channelDigest?: Maybe<ChannelDigest>;
  /**
   * The channels, in display order: the enabled ones (admins see disabled ones too). At
   * most 50.
   */
  channels: Array<Channel>;
  /** Blocked actors and instances. Admins only. */
  federationBlocks: Array<FederationBlock>;
  /** The latest deliveries to remote inboxes, newest first. Admins only. */
  federationDeliveries: Array<FederationDelivery>;
  /** Who follows the blog from the fediverse, newest first. Admins only. */
  federationFollowers: Array<FederationFollower>;
  /** Accounts the blog follows, newest first. Admins only. */
  federationFollowing: Array<FederationFollowing>;
  /** Replies sent to posts elsewhere, newest first: a writer's own (admins: everyone's). */
  federationReplies: Array<FederationReply>;
  /**
   * The feeds built so far: the site's posts and comments (RSS, Atom and JSON Feed), each
   * tag's posts, and the comments of each post whose feed has been asked for; by URL,
   * `first` of them (100 when not given, at most 100), after the feed whose URL is
   * `after`. Only feeds: a channel's ready-to-post texts are `Channel.syndicationUrls`.
   */
  feeds: Array<Feed>;
  /** The object with this global id; null when there is none (or it is not visible). */
  node?: Maybe<Node>;
  /**
   * The objects with these global ids (at most 100), in order; null for each one not
   * found. Each kind is read in one statement, however many ids.
   */
  nodes: Array<Maybe<Node>>;
  /**
   * A post by its global `id` or its `slug` (give one); null when there is none or the
   * viewer may not see it (drafts).
   */
  post?: Maybe<Post>;
  /** Posts, newest published first unless `orderBy` says otherwise. */
  posts: PostConnection;
  /**
   * The summary a channel would get for a post, with `template` if given (or the
   * channel's own, or its kind's default): for trying a template before saving it.
   * Needs a token: rendering and measuring a text is work an editor asks for.
   */
  previewSocialSummary: SummaryPreview;
  /**
   * The summaries of enabled channels for the latest published posts, of one channel
   * and/or one post when given; newest posts first, the `first` of them (100 when not
   * given, at most 100).
   */
  socialSummaries: Array<SocialSummary>;
  /**
   * A tag by its global `id` or its `slug` (give one); null when there is none, or when it
   * labels no post the viewer may read.
   */
  tag?: Maybe<Tag>;
  /** The tags of the posts you may see (for anyone: published posts), by name. */
  tags: TagConnection;
  /** Who the request's token belongs to; null without a token. */
  viewer?: Maybe<Viewer>;
  /** Every webhook endpoint. Admins only. */
  webhooks: Array<Webhook>;
};


export type QueryAuthorArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  slug?: InputMaybe<Scalars['String']['input']>;
};


export type QueryAuthorsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryChannelArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  slug?: InputMaybe<Scalars['String']['input']>;
};


export type QueryChannelDigestArgs = {
  channel?: InputMaybe<Scalars['ID']['input']>;
};


export type QueryFederationDeliveriesArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryFederationFollowersArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
  offset?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryFederationFollowingArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryFederationRepliesArgs = {
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryFeedsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


export type QueryNodesArgs = {
  ids: Array<Scalars['ID']['input']>;
};


export type QueryPostArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  slug?: InputMaybe<Scalars['String']['input']>;
};


export type QueryPostsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<PostFilter>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
  orderBy?: InputMaybe<PostOrder>;
};


export type QueryPreviewSocialSummaryArgs = {
  channel: Scalars['ID']['input'];
  post: Scalars['ID']['input'];
  template?: InputMaybe<Scalars['String']['input']>;
};


export type QuerySocialSummariesArgs = {
  channel?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  post?: InputMaybe<Scalars['ID']['input']>;
};


export type QueryTagArgs = {
  id?: InputMaybe<Scalars['ID']['input']>;
  slug?: InputMaybe<Scalars['String']['input']>;
};


export type QueryTagsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

/** `redeliverWebhookEvent`'s input. */
export type RedeliverWebhookEventInput = {
  /** As receivers see it in `webhook-id` (`msg_12`), or its number. */
  eventId: Scalars['String']['input'];
  webhookId: Scalars['ID']['input'];
};

/** `replyToFederatedPost`'s input. */
export type ReplyToFederatedPostInput = {
  /** Markdown, as a comment's. */
  body: Scalars['String']['input'];
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  /** The post's ActivityPub id (or the address Mastodon shows for it). */
  objectId: Scalars['String']['input'];
};

/** What `replyToFederatedPost` sent. */
export type ReplyToFederatedPostPayload = {
  __typename?: 'ReplyToFederatedPostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  reply: FederationReply;
};

/** What a token may do. */
export type Role =
  /** Everything. */
  | 'ADMIN'
  /** Write and manage their own posts. */
  | 'AUTHOR';

export type SchedulePostInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
  /** When the worker publishes the post (in the future). */
  publishAt: Scalars['DateTime']['input'];
};

export type SchedulePostPayload = {
  __typename?: 'SchedulePostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  post: Post;
};

export type SocialSummary = {
  __typename?: 'SocialSummary';
  channel: Channel;
  generatedAt: Scalars['DateTime']['output'];
  /** The text's length under the channel's own counting rule. */
  length: Scalars['Int']['output'];
  limit: Scalars['Int']['output'];
  post: Post;
  /** The text for the channel. */
  text: Scalars['String']['output'];
  /** Whether something was shortened or left out to fit. */
  truncated: Scalars['Boolean']['output'];
};

export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Each comment published on the post from now on (posted, or approved) that the public
   * may see, from any API process.
   */
  commentAdded: Comment;
  /** Each post published from now on, from any API process. */
  postPublished: Post;
};


export type SubscriptionCommentAddedArgs = {
  postId: Scalars['ID']['input'];
};

/** A summary as it would be written, not stored. */
export type SummaryPreview = {
  __typename?: 'SummaryPreview';
  /** Under the channel's own counting rule. */
  length: Scalars['Int']['output'];
  limit: Scalars['Int']['output'];
  text: Scalars['String']['output'];
  truncated: Scalars['Boolean']['output'];
};

export type Tag = Node & {
  __typename?: 'Tag';
  /** The RSS feed of the tag's posts. */
  feedUrl: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  /** The published posts with this tag, newest first. */
  posts: PostConnection;
  slug: Scalars['String']['output'];
};


export type TagPostsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  before?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  last?: InputMaybe<Scalars['Int']['input']>;
};

export type TagConnection = {
  __typename?: 'TagConnection';
  edges: Array<TagEdge>;
  /** The nodes of `edges`, for clients that need no cursors. */
  nodes: Array<Tag>;
  pageInfo: PageInfo;
  /** How many items the whole list holds, across all pages. */
  totalCount: Scalars['Int']['output'];
};

export type TagEdge = {
  __typename?: 'TagEdge';
  /** Opaque; pass it as `after` or `before`. */
  cursor: Scalars['String']['output'];
  node: Tag;
};

export type UnpublishPostPayload = {
  __typename?: 'UnpublishPostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  post: Post;
};

export type UnschedulePostPayload = {
  __typename?: 'UnschedulePostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  post: Post;
};

export type UpdateChannelInput = {
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  enabled?: InputMaybe<Scalars['Boolean']['input']>;
  id: Scalars['ID']['input'];
  kind?: InputMaybe<ChannelKind>;
  name?: InputMaybe<Scalars['String']['input']>;
  slug?: InputMaybe<Scalars['String']['input']>;
  /** A new template; `null` returns to the kind's default. */
  template?: InputMaybe<Scalars['String']['input']>;
  url?: InputMaybe<Scalars['String']['input']>;
};

export type UpdateChannelPayload = {
  __typename?: 'UpdateChannelPayload';
  channel: Channel;
  clientMutationId?: Maybe<Scalars['String']['output']>;
};

export type UpdatePostInput = {
  body?: InputMaybe<Scalars['String']['input']>;
  clientMutationId?: InputMaybe<Scalars['String']['input']>;
  commentsOpen?: InputMaybe<Scalars['Boolean']['input']>;
  /** A new summary; `null` returns to the start of the body. */
  excerpt?: InputMaybe<Scalars['String']['input']>;
  id: Scalars['ID']['input'];
  /**
   * A published post's publication date (not in the future), or a scheduled post's new
   * time to publish (in the future).
   */
  publishedAt?: InputMaybe<Scalars['DateTime']['input']>;
  /** A new slug (the slug does not follow title changes by itself). */
  slug?: InputMaybe<Scalars['String']['input']>;
  /** The complete new list of tag names. */
  tags?: InputMaybe<Array<Scalars['String']['input']>>;
  title?: InputMaybe<Scalars['String']['input']>;
};

export type UpdatePostPayload = {
  __typename?: 'UpdatePostPayload';
  clientMutationId?: Maybe<Scalars['String']['output']>;
  post: Post;
};

/** `updateWebhook`'s input: what is given changes. */
export type UpdateWebhookInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  events?: InputMaybe<Array<Scalars['WebhookEventType']['input']>>;
  id: Scalars['ID']['input'];
  url?: InputMaybe<Scalars['String']['input']>;
};

export type Viewer = {
  __typename?: 'Viewer';
  author: Author;
  role: Role;
};

export type Webhook = {
  __typename?: 'Webhook';
  createdAt: Scalars['DateTime']['output'];
  /** The latest deliveries, newest first. */
  deliveries: Array<WebhookDelivery>;
  description: Scalars['String']['output'];
  /** `admin`, `gone` or `failing`; null while enabled. */
  disabledReason?: Maybe<Scalars['String']['output']>;
  /**
   * False when an admin disabled it, the receiver answered 410 Gone, or every delivery
   * failed for five days (see `disabledReason`).
   */
  enabled: Scalars['Boolean']['output'];
  events: Array<Scalars['WebhookEventType']['output']>;
  /** Since when every delivery has failed; null while the last one succeeded. */
  failingSince?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  /** The latest delivery attempted (its status, time, response code and error). */
  lastDelivery?: Maybe<WebhookDelivery>;
  url: Scalars['String']['output'];
};


export type WebhookDeliveriesArgs = {
  first?: Scalars['Int']['input'];
};

/** One event's delivery to an endpoint. */
export type WebhookDelivery = {
  __typename?: 'WebhookDelivery';
  attempts: Scalars['Int']['output'];
  deliveredAt?: Maybe<Scalars['DateTime']['output']>;
  error?: Maybe<Scalars['String']['output']>;
  /** The event's id, as receivers get it in `webhook-id` (`msg_<n>`). */
  eventId: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  lastAttemptAt?: Maybe<Scalars['DateTime']['output']>;
  nextAttemptAt?: Maybe<Scalars['DateTime']['output']>;
  /** The receiver's HTTP status on the last attempt. */
  responseCode?: Maybe<Scalars['Int']['output']>;
  /** `pending` (to be attempted, or retried later), `delivered`, or `failed` (given up). */
  status: Scalars['String']['output'];
  type: Scalars['String']['output'];
};

/** The input of the mutations that name one endpoint. */
export type WebhookIdInput = {
  id: Scalars['ID']['input'];
};

/** A webhook with its signing secret, shown only here. */
export type WebhookWithSecret = {
  __typename?: 'WebhookWithSecret';
  /**
   * `whsec_` and the base64 of 32 random bytes: verify `webhook-signature` with it.
   * Shown once; rotate it if it is lost.
   */
  secret: Scalars['String']['output'];
  webhook: Webhook;
};

export type LatestPostsQueryVariables = Exact<{
  first: Scalars['Int']['input'];
}>;


export type LatestPostsQuery = { __typename?: 'Query', posts: { __typename?: 'PostConnection', totalCount: number, edges: Array<{ __typename?: 'PostEdge', node: { __typename?: 'Post', id: string, title: string, slug: string, publishedAt?: string | null, url: string, commentCount: number } }> } };

export type AddCommentMutationVariables = Exact<{
  input: AddCommentInput;
}>;


export type AddCommentMutation = { __typename?: 'Mutation', addComment?: { __typename?: 'AddCommentPayload', comment: { __typename?: 'Comment', id: string, body?: string | null, status: CommentStatus, createdAt: string } } | null };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const LatestPostsDocument = new TypedDocumentString(`
    query LatestPosts($first: Int!) {
  posts(first: $first) {
    totalCount
    edges {
      node {
        id
        title
        slug
        publishedAt
        url
        commentCount
      }
    }
  }
}
    `) as unknown as TypedDocumentString<LatestPostsQuery, LatestPostsQueryVariables>;
export const AddCommentDocument = new TypedDocumentString(`
    mutation AddComment($input: AddCommentInput!) {
  addComment(input: $input) {
    comment {
      id
      body
      status
      createdAt
    }
  }
}
    `) as unknown as TypedDocumentString<AddCommentMutation, AddCommentMutationVariables>;