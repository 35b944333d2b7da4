<?php
// What WordPress's importer reads from a Gazette export, with WordPress's own parsers
// (README.md). Usage: php check-export.php EXPORT.xml
//
// The export is of WordPress's Theme Unit Test data imported into Gazette (clients/run), so
// the counts are that file's as Gazette keeps it (docs/import.md): 58 posts (55 published,
// 2 drafts, 1 scheduled), 24 comments (9 of them replies on "Template: Comments", 1 held),
// 2 authors.

// The few WordPress functions the parsers call.
class WP_Error {
	public $code;
	public $message;
	public $data;
	public function __construct( $code = '', $message = '', $data = '' ) {
		$this->code    = $code;
		$this->message = $message;
		$this->data    = $data;
	}
	public function get_error_code() {
		return $this->code;
	}
}
function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}
function __( $text, $domain = 'default' ) {
	return $text;
}

require __DIR__ . '/vendor/class-wxr-parser-simplexml.php';
require __DIR__ . '/vendor/class-wxr-parser-xml.php';

$file     = $argv[1] ?? '';
$failures = array();
function expect( $what, $actual, $expected ) {
	global $failures;
	if ( $actual !== $expected ) {
		$failures[] = sprintf( '%s: expected %s, WordPress read %s', $what, var_export( $expected, true ), var_export( $actual, true ) );
	}
}

foreach ( array( 'WXR_Parser_SimpleXML', 'WXR_Parser_XML' ) as $parser_class ) {
	$parser = new $parser_class();
	$result = $parser->parse( $file );
	if ( is_wp_error( $result ) ) {
		$failures[] = "$parser_class: {$result->code}: {$result->message}";
		continue;
	}
	expect( "$parser_class: WXR version", $result['version'], '1.2' );
	expect( "$parser_class: authors", count( $result['authors'] ), 2 );
	$statuses = array();
	$comments = 0;
	$held     = 0;
	$threaded = 0;
	$tagged   = 0;
	foreach ( $result['posts'] as $post ) {
		expect( "$parser_class: post type of {$post['post_id']}", $post['post_type'], 'post' );
		$statuses[ $post['status'] ] = ( $statuses[ $post['status'] ] ?? 0 ) + 1;
		if ( ! empty( $post['terms'] ) ) {
			$tagged++;
		}
		foreach ( $post['comments'] ?? array() as $comment ) {
			$comments++;
			// The expat parser reads "0" as "" (PHP's empty()); WordPress casts both to 0.
			if ( 0 === (int) $comment['comment_approved'] && 'spam' !== $comment['comment_approved'] ) {
				$held++;
			}
			if ( 'Template: Comments' === $post['post_title'] && 0 !== (int) $comment['comment_parent'] ) {
				$threaded++;
			}
		}
		if ( 'Template: Comments' === $post['post_title'] ) {
			expect( "$parser_class: comment status of Template: Comments", $post['comment_status'], 'open' );
		}
		if ( 0 === strpos( $post['post_title'], 'Template: Password Protected' ) ) {
			expect( "$parser_class: the password-protected post", $post['status'], 'draft' );
		}
		if ( 'Markup: HTML Tags and Formatting' === $post['post_title'] ) {
			expect( "$parser_class: HTML kept", false !== strpos( $post['post_content'], '<blockquote>' ), true );
		}
	}
	ksort( $statuses );
	expect( "$parser_class: posts by status", $statuses, array( 'draft' => 2, 'future' => 1, 'publish' => 55 ) );
	expect( "$parser_class: comments", $comments, 24 );
	expect( "$parser_class: held comments", $held, 1 );
	expect( "$parser_class: replies on Template: Comments", $threaded, 9 );
	expect( "$parser_class: posts with tags", $tagged > 0, true );
	echo "$parser_class: " . count( $result['posts'] ) . " posts, $comments comments\n";
}

if ( $failures ) {
	fwrite( STDERR, implode( "\n", $failures ) . "\n" );
	exit( 1 );
}
echo "WordPress's importer reads the export as Gazette wrote it.\n";
